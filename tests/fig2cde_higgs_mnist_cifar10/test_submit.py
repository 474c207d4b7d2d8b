"""The SLURM submit scripts also run without SLURM: the SEEDS as one LE ensemble, then one BP ensemble,
into <runs>/<stem>/seed<S>."""
import json
import os
import subprocess

import pytest

from tests.fig2cde_higgs_mnist_cifar10.test_cli import CONFIGS, FOLDER


@pytest.mark.parametrize("task", ["higgs", pytest.param("mnist", marks=pytest.mark.slow),
                                  pytest.param("cifar10", marks=pytest.mark.slow)])
def test_submit_script_runs_the_seeds_outside_slurm(tmp_path, task):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(SEEDS="5,8", LE_CONFIG=str(CONFIGS / f"smoke_{task}_le.yaml"),
               BP_CONFIG=str(CONFIGS / f"smoke_{task}_bp.yaml"), LE_RUNS_DIR=str(tmp_path),
               LE_OVERRIDES="beta=0.2", BP_OVERRIDES="lr=0.05")
    proc = subprocess.run(["bash", str(FOLDER / f"submit_python_{task}_gpu_v100.sh"), "epochs=1",
                           "train_samples=32"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("train.py sweep") == 2  # one LE and one BP ensemble
    for model, key, value in (("le", "beta", 0.2), ("bp", "lr", 0.05)):
        for seed in (5, 8):
            run = tmp_path / f"smoke_{task}_{model}" / f"seed{seed}"
            assert json.loads((run / "summary.json").read_text())["status"] == "completed"
            config = (run / "config.yaml").read_text()
            assert f"seed: {seed}" in config and f"{key}: {value}" in config and "epochs: 1" in config
