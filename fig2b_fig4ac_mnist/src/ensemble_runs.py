"""Train K runs (configs x seeds that share shapes, dt, n_updates and data) as one LENetwork ensemble.

Each run keeps its own standard run folder (config.yaml, metrics.csv, summary.json, log.txt and the
checkpoint of its network); the folders are checkpointed together after every epoch, and a network
that diverges is recorded `diverged` and silenced while the others go on. Entry-script side (I/O).
"""
import math

import torch

from common.device import resolve_device
from common.divergence import check_finite
from common.errors import Diverged
from common.rungroup import RunGroup
from fig2b_fig4ac_mnist.src.config import DTYPES
from fig2b_fig4ac_mnist.src.cuda_graph import GraphPresenter
from fig2b_fig4ac_mnist.src.data import load_splits
from fig2b_fig4ac_mnist.src.network import LENetwork
from fig2b_fig4ac_mnist.src.schedule import adapt_tau, evaluate, train_pass

# config keys each network of an ensemble may set for itself; every other key is shared
# (common.sweep.ensemble_key)
PER_NETWORK = ("seed", "reseed_after_init", "init_std", "tau", "tau_m", "tau_width", "tau_clip", "beta",
               "noise_width", "prosp_rate_errors", "feedback_alignment", "learning_rate", "lr_multiplier",
               "lr_factors", "lr_factors_tau", "adapt_tau", "tau_s", "forward_filter", "backward_filter",
               "target_lpf")


def train_ensemble(jobs, restart=False):
    """jobs: [(cfg, run folder)] with equal ensemble_key(cfg, PER_NETWORK); restart: see RunGroup.
    Returns the exit code."""
    cfg0 = jobs[0][0]
    device, dtype = resolve_device(cfg0.device), DTYPES[cfg0.dtype]
    # float32 matrix products stay float32 on a GPU unless the config allows TF32
    torch.backends.cuda.matmul.allow_tf32 = cfg0.tf32
    torch.set_float32_matmul_precision("high" if cfg0.tf32 else "highest")
    splits = load_splits(cfg0, device, dtype)  # before any run folder: bad data leaves none behind
    with RunGroup(jobs, restart, sigint_stops=True) as group:  # Ctrl-C: stop at the next step
        for members in group.by_checkpoint():  # after a crash between checkpoints epochs differ
            _train(group, members, splits, device, dtype)
    return group.exit_code


def _train(group, members, splits, device, dtype):
    """Members [(run, cfg)] that go on from the same checkpoint, trained together to the end."""
    train, val, test = splits
    runs = [r for r, _ in members]
    state = runs[0].resumed_state
    start = 0 if state is None else state["epoch"] + 1
    cfgs = [c for _, c in members]
    cfg0, K = cfgs[0], len(cfgs)
    for run, cfg in members:  # the data set actually used, for every table and figure title
        run.update_summary(dataset=cfg.dataset)
    stream_seeds = [c.seed if c.reseed_after_init is None else c.reseed_after_init for c in cfgs]
    net = LENetwork(cfgs, device=device, dtype=dtype, noise_seeds=stream_seeds)  # model Q7: shared stream of 7
    order_gens = [torch.Generator().manual_seed(s) for s in stream_seeds]
    alive = [True] * K

    def hook(n_steps):
        for k, run in enumerate(runs):
            if alive[k]:
                run.add_steps(n_steps)
        group.check_stop()

    def say(k, text):
        print(text if K == 1 else f"{runs[k].path}: {text}")

    def diverge(k, epoch, reason):
        alive[k] = False
        net.silence(k)
        group.mark(runs[k], Diverged(epoch, reason))
        if K > 1:
            say(k, f"diverged at epoch {epoch}: {reason}; silenced, the other networks go on")

    if start > 0:
        for k, run in enumerate(runs):
            net.set_member_state(k, run.resumed_state["net"])
            order_gens[k].set_state(run.resumed_state["order_gen"])
    elif any(c.adapt_tau for c in cfgs):
        for k, passes in enumerate(adapt_tau(net, val, cfgs, hook)):
            if cfgs[k].adapt_tau:
                say(k, f"tau_m adapted with {passes} validation passes per layer")
    presenter = GraphPresenter(net) if net.device.type == "cuda" else None
    print(f"{K} network{'s' if K > 1 else ''}: {len(train.x)} train / {len(val.x)} val / {len(test.x)} test "
          f"images, device {device}")
    last = cfg0.epoch_qty - 1
    for epoch in range(start, cfg0.epoch_qty):
        if epoch > 0:  # epoch 0 is evaluation only (model Q9)
            for k, reason in train_pass(net, train, cfg0, order_gens, alive, hook, presenter).items():
                diverge(k, epoch, reason)
        val_scores = evaluate(net, val, cfg0, hook=hook, presenter=presenter)
        test_scores = evaluate(net, test, cfg0, hook=hook, presenter=presenter) if epoch == last else None
        for k, run in enumerate(runs):
            if not alive[k]:
                continue
            loss, error, accuracy = val_scores.loss[k], val_scores.error[k], val_scores.accuracy[k]
            try:
                check_finite(epoch, val_loss=loss, **{f"W{l + 1}": w[k] for l, w in enumerate(net.W)})
            except Diverged as err:
                diverge(k, err.epoch, err.reason)
                continue
            run.log_metrics(epoch=epoch, split="val", loss=loss, error=error, accuracy=accuracy,
                            n_scored=val_scores.n_scored)
            say(k, f"epoch {epoch}: val_error {error:.2f}% val_loss {loss:.4f} "
                   f"(scored {val_scores.n_scored} of {val_scores.n_total})")
            final = None
            if test_scores is not None:
                t = test_scores
                if not math.isfinite(t.loss[k]):
                    diverge(k, epoch, "test_loss is not finite")
                    continue
                run.log_metrics(epoch=epoch, split="test", loss=t.loss[k], error=t.error[k],
                                accuracy=t.accuracy[k], n_scored=t.n_scored)
                say(k, f"test_error {t.error[k]:.2f}% test_loss {t.loss[k]:.4f} (scored {t.n_scored} of {t.n_total})")
                final = {"test_error": t.error[k], "test_accuracy": t.accuracy[k], "test_loss": t.loss[k],
                         "val_error": error, "val_accuracy": accuracy, "val_loss": loss,
                         "n_scored": t.n_scored, "val_n_scored": val_scores.n_scored,
                         "result": t.accuracy[k] / 100.0}
            # the last checkpoint carries the final metrics: a process that dies before the run is
            # marked completed is completed by the rerun
            run.save_checkpoint({"epoch": epoch, "net": net.member_state(k),
                                 "order_gen": order_gens[k].get_state()}, final=final)
        if not any(alive):
            return
