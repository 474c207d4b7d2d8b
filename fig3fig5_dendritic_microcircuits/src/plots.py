"""Per-run plots (model §7), drawn from arrays read out of run folders."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from common.errors import UsageError  # noqa: E402


def save(fig, path):
    """Write and close the figure; a failed write (full disk) is one line naming the file."""
    try:
        fig.savefig(path, dpi=120)
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}; free space in {Path(path).parent}, "
                         "then draw the plots again with `eval RUN_DIR` of the entry script") from None
    finally:
        plt.close(fig)


def plot_val_curve(epochs, mse, acc, path, with_acc=True):
    """Validation MSE (log y) and accuracy (twin axis) against the epoch after which it was taken."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(epochs, mse, color="C0")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation MSE", color="C0")
    if with_acc:
        ax2 = ax.twinx()
        ax2.plot(epochs, acc, color="green")
        ax2.set_ylabel("validation accuracy (%)", color="green")
        ax2.set_ylim(-5, 105)
    fig.tight_layout()
    save(fig, path)


def plot_outputs(u_out, u_tgt, path, title=""):
    """One panel per output neuron: recorded output trace and target trace against sample index."""
    u_out, u_tgt = np.atleast_2d(u_out.T).T, np.atleast_2d(u_tgt.T).T     # (samples, N_L)
    n = u_out.shape[1]
    fig, axes = plt.subplots(n, 1, figsize=(7, 1.8 * n + 0.6), sharex=True, squeeze=False)
    for j, ax in enumerate(axes[:, 0]):
        ax.plot(u_out[:, j], label="output")
        ax.plot(u_tgt[:, j], "--", label="target")
        ax.set_ylabel(f"neuron {j}")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("sample")
    fig.tight_layout()
    save(fig, path)


def plot_lines(t, series, path, ylabel, hlines=(), logy=False, title=""):
    """Several traces (label -> values) against time, with optional dotted reference levels."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, v in series.items():
        ax.plot(t, v, label=label)
    for j, (label, level) in enumerate(hlines):
        ax.axhline(level, ls=":", color=f"C{j}", label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("time")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)
