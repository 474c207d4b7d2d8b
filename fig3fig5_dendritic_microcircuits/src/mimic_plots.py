"""Mimic plots of model §7 (`mimic_<name>.png`), read from a mimic run folder."""
from pathlib import Path

import numpy as np

from fig3fig5_dendritic_microcircuits.src.params import derived
from fig3fig5_dendritic_microcircuits.src.plots import plot_lines, plot_outputs, plot_val_curve


RUN_FILES = ("config.yaml", "teacher.npz", "val_mse.npy", "train_traces.npz", "eval_pretrain_test.npz",
             "eval_test.npz")                     # what the plots read from a finished mimic run


def first_element(tr, key):
    """Trace of the first element of a recorded quantity: (samples, ...) -> (samples,)."""
    v = tr[key]
    return v.reshape(len(v), -1)[:, 0]


def load(run_dir):
    run_dir = Path(run_dir)
    z = lambda name: dict(np.load(run_dir / name))            # noqa: E731
    out = {"teacher": z("teacher.npz"), "val_mse": np.load(run_dir / "val_mse.npy"),
           "train": z("train_traces.npz"),
           "pre": z("eval_pretrain_test.npz"), "post": z("eval_test.npz")}
    if (run_dir / "selfpred_traces.npz").is_file():
        out["selfpred"] = z("selfpred_traces.npz")
    return out


def plot_all(run_dir, cfg):
    run_dir = Path(run_dir)
    d = load(run_dir)
    alpha_P = derived(cfg.network.net_params())["alpha_P"]
    teacher = d["teacher"]
    sp = d.get("selfpred")
    if sp is not None:
        t = sp["time"]
        ws = {name: (sign * first_element(sp, key)) for name, key, sign in (
            ("W_out", "layer_1_W_up", 1), ("W_ip", "layer_0_W_ip", 1), ("W_down", "layer_0_W_down", 1),
            ("-W_pi", "layer_0_W_pi", -1)) if key in sp}
        plot_lines(t, ws, run_dir / "mimic_selfpred_ws.png", "weight", title="self-prediction")
        if "layer_1_pyr_forw" in sp and "layer_0_inn_forw" in sp:
            plot_lines(t, {"top pyramid ŭ": first_element(sp, "layer_1_pyr_forw"),
                           "interneuron ŭ": first_element(sp, "layer_0_inn_forw")},
                       run_dir / "mimic_selfpred_volts_comp.png", "voltage", title="self-prediction")
        if "layer_0_pyr_apical" in sp:
            plot_lines(t, {"v^A": first_element(sp, "layer_0_pyr_apical")},
                       run_dir / "mimic_selfpred_apical.png", "apical potential",
                       title="self-prediction")
    epochs = np.arange(1, len(d["val_mse"]) + 1)
    plot_val_curve(epochs, d["val_mse"], None, run_dir / "mimic_train_val_acc.png", with_acc=False)
    plot_outputs(d["pre"]["u_out"], d["pre"]["u_tgt"], run_dir / "mimic_pretrain_eval_test_u_out.png",
                 title="before training")
    plot_outputs(d["post"]["u_out"], d["post"]["u_tgt"], run_dir / "mimic_eval_test_u_out.png",
                 title="after training")
    tr = d["train"]
    t = tr["time"]
    series = {name: first_element(tr, key) for name, key in (("W_up1 (out)", "layer_1_W_up"),
                                                       ("W_ip", "layer_0_W_ip"),
                                                       ("W_up0", "layer_0_W_up")) if key in tr}
    hl = [("teacher W_up1", float(teacher["W_up_out"].ravel()[0])),
          ("teacher W_ip", float(teacher["W_ip_1"].ravel()[0])),
          ("teacher W_up0", float(teacher["W_up_1"].ravel()[0]))]
    plot_lines(t, series, run_dir / "mimic_train_ws.png", "weight", hlines=hl, title="task training")
    if "layer_0_pyr_apical" in tr:
        plot_lines(t, {"v^A": first_element(tr, "layer_0_pyr_apical")},
                   run_dir / "mimic_train_apical.png", "apical potential", title="task training")
    if "layer_0_pyr_basal" in tr and "layer_0_pyr_forw" in tr:
        pred = np.float32(alpha_P) * first_element(tr, "layer_0_pyr_basal")
        u_hat = first_element(tr, "layer_0_pyr_forw")
        plot_lines(t, {"α_P v^B": pred, "ŭ^P": u_hat}, run_dir / "mimic_train_pyr_volts.png",
                   "voltage", title="hidden pyramid")
        plot_lines(t, {"ŭ^P - α_P v^B": u_hat - pred}, run_dir / "mimic_train_pyr_error.png",
                   "error", title="hidden pyramid")
