"""Bars training (spec §4.2) of runs grouped into ensembles, one run folder per run (entry-script side,
does I/O): blocks of epochs between checkpoints, per-run metrics, traces, snapshots and divergence, then
the final evaluation. Used by `run_bars.py train|sweep`."""
import csv
import time

import numpy as np

from common.errors import Diverged, Interrupted
from common.rungroup import RunGroup, run_ensembles

from .bars_task import bars_data, build
from .evaluation import evaluate
from .protocol import RUNAWAY, epoch_metrics, epochs_before_divergence
from .runfolders import split_state, stack_states
from .sub_blocks import run_in_sub_blocks
from .traces import named_traces, record_list, save_arrays

STEPS_PER_BLOCK = 20_000_000      # network-steps between checkpoints (~40 s compiled)


def ensemble_key(cfg):
    """Runs with equal keys can be simulated as one ensemble (same shapes, schedule length, records)."""
    nw, t = cfg.network, cfg.training
    return (nw.steps_per_pattern, tuple(nw.dims), nw.bias.on, t.engine, t.n_epochs,
            t.n_val_samples, t.bars_drop_last_pattern, t.record_dt, t.save_traces,
            str(t.recorded_quants) if t.save_traces else "", str(t.snapshot_epochs))


def sweep(jobs, restart=False):
    """Train the runs `jobs` [(cfg, out_dir)] as few ensembles as possible; stop after an ensemble that
    was interrupted. Returns the exit code."""
    def train(group_jobs):
        print(f"ensemble of {len(group_jobs)} runs, {group_jobs[0][0].network.steps_per_pattern} steps "
              "per pattern", flush=True)
        return train_group(group_jobs, restart)

    return run_ensembles(jobs, ensemble_key, train)


def train_group(jobs, restart=False):
    """Train the runs `jobs` [(cfg, out_dir)] (one ensemble_key) as one ensemble; completed runs are
    skipped, interrupted ones resume from their checkpoints. Returns the exit code."""
    with RunGroup(jobs, restart, sigint_stops=True) as group:
        for members in group.by_checkpoint():
            _train_members(group, members)
    return group.exit_code


def blocks(cfg, K):
    """Epoch blocks between checkpoints; snapshot epochs always end a block."""
    n = cfg.network.steps_per_pattern
    per = max(1, STEPS_PER_BLOCK // (n * K * 16))
    ends = set(range(per, cfg.training.n_epochs, per)) | {cfg.training.n_epochs}
    ends |= set(cfg.training.snapshot_epochs or [])
    ends = sorted(ends)
    return list(zip([0] + ends[:-1], ends))


def _train_members(group, members):
    """Members [(run, cfg)] that all go on from the same checkpoint (or all start afresh)."""
    runs = [m[0] for m in members]
    start = runs[0].resumed_state["epoch"] if runs[0].resumed_state else 0
    cfgs = [m[1] for m in members]
    cfg0 = cfgs[0]
    n = cfg0.network.steps_per_pattern
    net, scheds = build(cfgs)
    if net.engine_note:
        print(f"note: {net.engine_note}")
    K = net.K
    if start == 0:
        for k, run in enumerate(runs):
            net.save_weights(run.path / "weights_pre.npz", k)
    else:
        net.set_state(stack_states([{k: v for k, v in r.resumed_state.items() if k != "epoch"}
                                    for r in runs]))
    X = np.stack([s.X for s in scheds])                                        # (K, P, 9)
    T = np.stack([s.T for s in scheds])                                        # (K, P, 4)
    per_epoch = scheds[0].per_epoch
    rec = record_list(cfg0) if cfg0.training.save_traces else ()
    c = cfg0.record_every
    alive = [True] * K
    t0 = time.monotonic()
    try:
        for e0, e1 in blocks(cfg0, K):
            if e1 <= start:
                continue
            sl = slice(e0 * per_epoch, e1 * per_epoch)
            res = run_in_sub_blocks(net, X[:, sl], T[:, sl], T[:, sl, -1] == 1.0, n,
                                    group.check_stop, record=rec, record_every=c,
                                    reset=(e0 == 0), finalize=(e1 == cfg0.training.n_epochs))
            for k, run in enumerate(runs):
                if alive[k]:
                    alive[k] = _log_block(group, run, cfgs[k], net, k, res, T[k, sl], e0, e1,
                                          per_epoch, n)
            state = net.get_state()
            for k, run in enumerate(runs):
                if alive[k]:
                    run.save_checkpoint(dict(split_state(state, k), epoch=e1))
            print(f"N={n}: epochs {e1}/{cfg0.training.n_epochs}, {sum(alive)}/{K} networks "
                  f"running, {time.monotonic() - t0:.0f}s", flush=True)
            if not any(alive):
                return
        _finish(group, net, runs, cfgs, alive, n, c, per_epoch)
    except Interrupted as stop:          # the unfinished block is redone from the last checkpoint
        for run in runs:
            group.mark(run, stop)


def _log_block(group, run, cfg, net, k, res, T, e0, e1, per_epoch, n):
    """Metrics, traces and snapshot of network k after epochs e0+1..e1; False once it diverged."""
    t = cfg.training
    run.add_steps((e1 - e0) * per_epoch * n)
    rows, bad = epochs_before_divergence(
        epoch_metrics(res.out[k], T, per_epoch, t.n_val_samples, t.eval_metric == "accuracy"),
        res.diverged_at[k], per_epoch)
    for j, (mse, acc) in enumerate(rows):
        run.log_metrics(epoch=e0 + j + 1, split="val", loss=mse, error=100.0 - acc, accuracy=acc,
                        patterns_seen=(e0 + j + 1) * (per_epoch - t.n_val_samples))
    if bad is not None:
        net.active[k] = False
        group.mark(run, Diverged(e0 + bad, RUNAWAY))
        return False
    if t.save_traces:
        tdir = run.path / "traces"
        tdir.mkdir(exist_ok=True)
        save_arrays(tdir / f"train_epochs_{e0 + 1:05d}-{e1:05d}.npz", named_traces(res.traces, k))
    if e1 in (t.snapshot_epochs or []):
        net.save_weights(run.path / f"weights_epoch{e1:05d}.npz", k)
    return True


def _finish(group, net, runs, cfgs, alive, n, c, per_epoch):
    """Final evaluation (spec §4.2 step 6) of the networks still alive; completes their runs."""
    for k, run in enumerate(runs):
        if alive[k]:
            net.save_weights(run.path / "weights_post.npz", k)
    ev = evaluate(net, [bars_data(cfg) for cfg in cfgs], n, c,
                  [cfg.training.eval_metric == "accuracy" for cfg in cfgs], group.check_stop)
    for k, run in enumerate(runs):
        if not alive[k]:
            continue
        E, n_val = cfgs[k].training.n_epochs, cfgs[k].training.n_val_samples
        if ev[k]["train"]["diverged"] or ev[k]["test"]["diverged"]:
            group.mark(run, Diverged(E, f"final evaluation: {RUNAWAY}"))
            continue
        for split in ("train", "test"):
            d = ev[k][split]
            save_arrays(run.path / f"eval_{split}.npz", d)
            run.log_metrics(epoch=E, split=split, loss=d["mse"], error=100.0 - d["acc"],
                            accuracy=d["acc"], patterns_seen=E * (per_epoch - n_val))
        run.add_steps(2 * len(ev[k]["test"]["x"]) * n)
        run.complete({"test_loss": ev[k]["test"]["mse"], "test_accuracy": ev[k]["test"]["acc"],
                      "train_loss": ev[k]["train"]["mse"], "train_accuracy": ev[k]["train"]["acc"],
                      "final_val_loss": _last_val_loss(run), "engine": net.engine})


def _last_val_loss(run):
    with open(run.path / "metrics.csv") as f:
        vals = [r for r in csv.DictReader(f) if r["split"] == "val"]
    return float(vals[-1]["loss"]) if vals else None
