"""Fig. 5 (supplement): a student microcircuit with LE learns to mimic a teacher, from one mimic run folder.

  python plot_fig5.py RUN_DIR [--out PATH]

(a) self-prediction phase: W_ip vs W_out and -W_pi vs W_down, top pyramid ŭ vs interneuron ŭ, the
apical potential; (b) task learning: validation MSE, output vs target before and after training,
W_up0 / W_up1 against the teacher's values (dotted), apical potential and hidden pyramidal error.
The figure goes beside the run folder (fig5_<run>.png in its parent) unless --out says otherwise.
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from common.cli import UsageParser, entry_point  # noqa: E402
from common.errors import UsageError  # noqa: E402
from common.runs import default_out, save_figure, special_kind  # noqa: E402
from fig3fig5_dendritic_microcircuits.src.config import MimicConfig  # noqa: E402
from fig3fig5_dendritic_microcircuits.src.mimic_plots import (RUN_FILES, first_element,  # noqa: E402
                                                               load)
from fig3fig5_dendritic_microcircuits.src.params import derived  # noqa: E402
from fig3fig5_dendritic_microcircuits.src.runfolders import (load_run_config,  # noqa: E402
                                                             require_files)


def check_files(run_dir):
    """UsageError (one line) unless every file the figure reads is a regular file: a named pipe
    in its place would block the reader forever."""
    for name in RUN_FILES + ("selfpred_traces.npz",):
        kind = special_kind(Path(run_dir) / name)
        if kind and kind != "missing":
            raise UsageError(f"{Path(run_dir) / name} is a {kind}, not a regular file: not read")
    require_files(run_dir, RUN_FILES, "mimic")


def plot(run_dir, out_path):
    run_dir = Path(run_dir)
    check_files(run_dir)
    d = load(run_dir)
    alpha_P = derived(load_run_config(MimicConfig, run_dir).network.net_params())["alpha_P"]
    fig, ax = plt.subplots(2, 4, figsize=(16, 6.5))
    sp, tr, teacher = d.get("selfpred"), d["train"], d["teacher"]
    if sp is not None:
        t = sp["time"]
        a = ax[0, 0]
        a.plot(t, first_element(sp, "layer_1_W_up"), label="W_out")
        a.plot(t, first_element(sp, "layer_0_W_ip"), "--", label="W_ip")
        a.plot(t, first_element(sp, "layer_0_W_down"), label="W_down")
        a.plot(t, -first_element(sp, "layer_0_W_pi"), "--", label="-W_pi")
        a.set_title("(a) self-prediction: weights")
        a.set_ylabel("weight")
        a.legend(fontsize=7)
        a = ax[0, 1]
        a.plot(t, first_element(sp, "layer_1_pyr_forw"), label="top pyramid ŭ")
        a.plot(t, first_element(sp, "layer_0_inn_forw"), "--", label="interneuron ŭ")
        a.set_title("self-prediction: voltages")
        a.set_ylabel("voltage")
        a.legend(fontsize=7)
        a = ax[0, 2]
        a.plot(t, first_element(sp, "layer_0_pyr_apical"))
        a.set_title("self-prediction: apical potential v^A")
        a.set_ylabel("apical potential v^A")
    else:
        for a in ax[0, :3]:
            a.text(0.5, 0.5, "no self-prediction phase recorded\n(no selfpred_traces.npz in the run)",
                   transform=a.transAxes, ha="center", va="center", fontsize=8)
            a.set_axis_off()
    a = ax[0, 3]
    a.semilogy(np.arange(1, len(d["val_mse"]) + 1), d["val_mse"])
    a.set_title("(b) validation MSE")
    a.set_xlabel("epoch")
    a.set_ylabel("validation MSE")
    a = ax[1, 0]
    for key, label, style in (("pre", "before", ":"), ("post", "after", "-")):
        a.plot(d[key]["u_out"].reshape(len(d[key]["u_out"]), -1)[:, 0], style,
               label=f"output {label} training")
    a.plot(d["post"]["u_tgt"].reshape(len(d["post"]["u_tgt"]), -1)[:, 0], "k--", lw=0.8,
           label="target")
    a.set_title("output vs target (test run)")
    a.set_xlabel("sample")
    a.set_ylabel("output potential u (first neuron)")
    a.legend(fontsize=7)
    a = ax[1, 1]
    t = tr["time"]
    for j, (key, tkey, label) in enumerate((("layer_0_W_up", "W_up_1", "W_up0"),
                                            ("layer_1_W_up", "W_up_out", "W_up1"))):
        a.plot(t, first_element(tr, key), color=f"C{j}", label=label)
        a.axhline(float(teacher[tkey].ravel()[0]), ls=":", color=f"C{j}", label=f"teacher {label}")
    a.set_title("task learning: weights")
    a.set_ylabel("weight")
    a.legend(fontsize=7)
    a = ax[1, 2]
    a.plot(t, first_element(tr, "layer_0_pyr_apical"))
    a.set_title("task learning: apical potential")
    a.set_ylabel("apical potential v^A")
    a = ax[1, 3]
    a.plot(t, first_element(tr, "layer_0_pyr_forw")
           - np.float32(alpha_P) * first_element(tr, "layer_0_pyr_basal"))
    a.set_title("hidden pyramid error ŭ^P - α_P v^B")
    a.set_ylabel("ŭ^P - α_P v^B")
    for a in list(ax[0, :3]) + list(ax[1, 1:]):
        a.set_xlabel("time")
    fig.tight_layout()
    save_figure(fig, out_path, dpi=120)
    plt.close(fig)


@entry_point
def main(argv=None):
    p = UsageParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, default=None, help="figure file (default: fig5_<run>.png beside the run)")
    a = p.parse_args(argv)
    check_files(a.run_dir)
    out = a.out or default_out([a.run_dir], f"fig5_{a.run_dir.resolve().name}.png")
    plot(a.run_dir, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
