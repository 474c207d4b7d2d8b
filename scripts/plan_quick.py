"""The quick profile of reproduce.py: which reduced-size runs make each panel, and what they cost.

Sizes are chosen so that the whole plan takes <= 15 minutes on 2 CPU cores; the estimates (seconds
of one core with one math thread, interpreter start included) drive the progress display. Every run writes a
standard run folder under the runs root, where make_figures.py finds it.
"""
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
F2B = REPO / "fig2b_fig4ac_mnist"
F2CDE = REPO / "fig2cde_higgs_mnist_cifar10"
F35 = REPO / "fig3fig5_dendritic_microcircuits"
PY = sys.executable
PANEL_IDS = ("fig1", "fig2a", "fig3", "fig5", "fig2b", "fig4a", "fig4c", "fig2cde")
BARS_SEEDS = "12345-12347"
BARS_N = (100, 50, 20, 10, 5)


@dataclass
class Step:
    panel: str
    name: str                 # file-safe, unique: log file name
    title: str
    argv: list
    est_s: float
    figures: tuple = ()       # globs (relative to the runs root) of figures the step draws itself
    finished: bool = field(default=False, compare=False)


def detect_data(root=None):
    """{name: True/False} for mnist, fashion_mnist, cifar10, higgs under the data root."""
    from common.data import DataMissing, higgs_path, load_vision

    found = {}
    for name in ("mnist", "fashion_mnist", "cifar10"):
        try:
            load_vision(name, train=False, root=root, download=False)
            found[name] = True
        except DataMissing:
            found[name] = False
    try:
        higgs_path(root)
        found["higgs"] = True
    except DataMissing:
        found["higgs"] = False
    return found


def _a(*parts):
    return [str(p) for p in parts]


def _fig1(runs):
    out = runs / "fig1_relaxation"
    return [Step("fig1", "fig1_relaxation", "relaxation demo (LE vs non-prospective chain)",
                 _a(PY, F2B / "src" / "relaxation_demo.py", "--out", out), 10,
                 figures=("fig1_relaxation/*.png",))]


def _fig2a(runs):
    out = runs / "fig2a_fourier"
    return [Step("fig2a", "fig2a_fourier", "Fourier synthesis, shortened (LE and non-prospective)",
                 _a(PY, F2B / "src" / "fourier_synthesis.py", "--steps", 60000, "--out", out), 15,
                 figures=("fig2a_fourier/*.png",))]


def _fig3(runs):
    cfg = F35 / "experiment_configs"
    steps = []
    for n in BARS_N:
        steps.append(Step("fig3", f"fig3_bars_N{n}", f"bars N={n}: LE and orig x seeds {BARS_SEEDS}, 1000 epochs",
                          _a(PY, F35 / "src" / "run_bars.py", "sweep", cfg / f"bars_le_tpres_{n}.yaml",
                             cfg / f"bars_orig_tpres_{n}.yaml", "--seeds", BARS_SEEDS, "--root", runs / "fig3",
                             "training.save_traces=false"), 10 + 0.3 * n))
    return steps


def _fig5(runs):
    return [Step("fig5", "fig5_mimic", "mimic task (teacher/student microcircuit)",
                 _a(PY, F35 / "src" / "run_single_mc.py", "train", F35 / "experiment_configs" / "mimic_tpres_100.yaml",
                    "--out", runs / "fig5" / "mimic_tpres_100" / "seed12345"), 18)]


# Fig. 2b/4a/4c: 10 batches of 512 for training, 2 each for validation and test.
FC_SIZE = ["train_samples=5120", "val_samples=1024", "test_samples=1024", "device=cpu"]


def _fc_run(panel, cfg, name, overrides, runs, ds, est):
    """One train.py run in the job scripts' layout <name>/seed69, which the folder's plots read."""
    return Step(panel, f"{panel}_{name}", f"{name} on {ds} ({' '.join(overrides)})",
                _a(PY, F2B / "src" / "train.py", F2B / "configs" / cfg, f"dataset={ds}", *FC_SIZE, *overrides,
                   "--out", runs / panel / name / "seed69"), est)


def _fig2b(runs, ds):
    epochs = ["epoch_qty=4"]   # epoch 0 is evaluation only: 3 training epochs
    return [_fc_run("fig2b", f"{v}.yaml", v, epochs, runs, ds, est)
            for v, est in (("2b_le", 34), ("2b_fa", 34), ("2b_big_tau", 34), ("2b_no_prospective", 62))]


# The variants of 4a_jobs.sh (same overrides), at a short and a long presentation time.
FIG4A_VARIANTS = {"exact": ["tau_width=0.0"], "jitter30": ["tau_width=0.3"],
                  # tau_m adaptation capped at 100 validation passes per layer (the paper: until converged)
                  "learned_tau_m": ["adapt_tau=true", "prosp_rate_errors=true", "tau_width=0.2",
                                    "tau_adapt_max_passes=100"]}


def _fig4a(runs, ds):
    return [_fc_run("fig4a", "4a_params.yaml", f"4a_{variant}_dt{dt}", ["epoch_qty=3", f"dt={dt}", *over],
                    runs, ds, 68 if variant == "learned_tau_m" else 26)
            for variant, over in FIG4A_VARIANTS.items() for dt in ("0.01", "1.0")]


def _fig4c(runs, ds):
    return [_fc_run("fig4c", "4c_params.yaml", f"4c_dt0.05_taus{tau_s}_n{n}",
                    ["epoch_qty=3", "dt=0.05", f"tau_s={tau_s}", f"n_updates={n}"], runs, ds, 6 + 0.2 * n)
            for tau_s in ("0.0", "2.0") for n in (20, 200)]


def _fig2cde(runs, data, vision_ds):
    steps = []
    tasks = []
    # LeNet LE (MNIST, CIFAR-10): 10 update steps per batch instead of 100 / 50, with the multiplier
    # that keeps the paper's per-step coefficient 0.125 M f / n (fig2cde README, "Observed stability").
    short = ["n_updates=10", "batch_learning_multiplier=12.8", "batch_size=128"]
    if vision_ds:
        tasks.append(("mnist", vision_ds, ["train_samples=8192", "eval_samples=1024", "epochs=2"], short, (70, 20)))
    if data.get("higgs"):
        tasks.append(("higgs", "higgs", ["higgs_rows=60000", "higgs_test_rows=10000", "val_size=10000",
                                         "epochs=2"], [], (40, 15)))
    if data.get("cifar10"):
        tasks.append(("cifar10", "cifar10", ["train_samples=8192", "eval_samples=1024", "epochs=2"], short, (90, 25)))
    for task, ds, over, le_short, (est_le, est_bp) in tasks:
        for model, est in (("le", est_le), ("bp", est_bp)):
            stem = f"{task}_{model}"
            steps.append(Step("fig2cde", f"fig2cde_{stem}", f"{stem} on {ds} ({' '.join(over)})",
                              _a(PY, F2CDE / "train.py", F2CDE / "configs" / f"{stem}.yaml", f"dataset={ds}",
                                 "device=cpu", *over, *(le_short if model == "le" else []),
                                 "--out", runs / "fig2cde" / stem / "seed1"), est))
    return steps


def quick_steps(data, runs, only=None):
    """(steps, skipped [(panel, why)], banners) for the panels in `only` (default: all)."""
    runs = Path(runs)
    want = [p for p in PANEL_IDS if only is None or p in only]
    steps, skipped, banners = [], [], []
    vision_ds = "mnist" if data.get("mnist") else "fashion_mnist" if data.get("fashion_mnist") else None
    mnist_panels = [p for p in ("fig2b", "fig4a", "fig4c", "fig2cde") if p in want]
    if mnist_panels and vision_ds == "fashion_mnist":
        banners.append("*" * 100 + "\n*** MNIST is not under the data root: Fashion-MNIST STANDS IN FOR MNIST in "
                       f"{', '.join(mnist_panels)}.\n*** Those numbers are not comparable with the paper's MNIST "
                       "values. Get MNIST: python scripts/fetch_data.py mnist\n" + "*" * 100)
    for panel in want:
        if panel == "fig1":
            steps += _fig1(runs)
        elif panel == "fig2a":
            steps += _fig2a(runs)
        elif panel == "fig3":
            steps += _fig3(runs)
        elif panel == "fig5":
            steps += _fig5(runs)
        elif panel in ("fig2b", "fig4a", "fig4c"):
            if vision_ds is None:
                skipped.append((panel, "neither MNIST nor Fashion-MNIST found; get it with "
                                       "`python scripts/fetch_data.py mnist` (or apt-get install dataset-fashion-mnist)"))
                continue
            steps += {"fig2b": _fig2b, "fig4a": _fig4a, "fig4c": _fig4c}[panel](runs, vision_ds)
        elif panel == "fig2cde":
            steps += _fig2cde(runs, data, vision_ds)
            if vision_ds is None:
                skipped.append(("fig2d (MNIST)", "no MNIST or Fashion-MNIST: `python scripts/fetch_data.py mnist`"))
            if not data.get("higgs"):
                skipped.append(("fig2c (HIGGS)", "HIGGS not found: `python scripts/fetch_data.py higgs`"))
            if not data.get("cifar10"):
                skipped.append(("fig2e (CIFAR-10)", "CIFAR-10 not found: `python scripts/fetch_data.py cifar10`"))
    return steps, skipped, banners
