"""Bars training (model §4.2) of runs grouped into ensembles, one run folder per run (entry-script side,
does I/O): the networks and schedules of the runs, blocks of epochs between checkpoints, per-run
metrics, traces, snapshots and divergence, then the final evaluation. Used by `run_bars.py
train|sweep`; `build` also by `run_bars.py eval` and the benchmarks."""
import csv
import time

import numpy as np

from common.errors import Diverged, Interrupted
from common.rungroup import RunGroup

from .dataset import bars_data
from .network import Microcircuits
from .protocol import (RUNAWAY, epoch_metrics, epochs_before_divergence, evaluate, named_traces,
                       record_list, run_in_sub_blocks, train_schedule)
from .runfolders import save_arrays

STEPS_PER_BLOCK = 20_000_000      # network-steps between checkpoints (~40 s compiled)
# config keys each network of an ensemble may set for itself (its NetParams, seed, init, targets and
# recorded traces); every other key is shared: one schedule length, step count, record_dt and engine
# (common.sweep.ensemble_key)
PER_NETWORK = ("training.seed", "training.init_selfpred", "training.eval_metric", "training.u_tgt_high",
               "training.u_tgt_low", "training.save_traces", "training.recorded_quants",
               "network.latent_eq", "network.gl", "network.gb", "network.ga", "network.gsom",
               "network.gd", "network.eta", "network.init_weights", "network.tau_0", "network.out_lag",
               "network.learning_lag", "network.bias.val", "network.output_leak", "network.ablation")


def build(cfgs):
    """Networks (reflected if init_selfpred) and their schedules; draws follow model §1.1, §4.2."""
    net0 = cfgs[0].network
    net = Microcircuits(net0.dims, [c.network.net_params() for c in cfgs],
                        [c.training.seed for c in cfgs], bias_on=net0.bias.on,
                        init_weights=[c.network.init_dict() for c in cfgs],
                        engine=cfgs[0].training.engine)
    for k, c in enumerate(cfgs):
        if c.training.init_selfpred:
            net.reflect([k])
    scheds = []
    for k, c in enumerate(cfgs):
        x, y = bars_data(c)
        scheds.append(train_schedule(net.rngs[k], x, y, x, y, c.training.n_epochs,
                                     c.training.n_val_samples))
    return net, scheds


def train_group(jobs, restart=False):
    """Train the runs `jobs` [(cfg, out_dir)], whose configs differ only in PER_NETWORK keys, as one
    ensemble; completed runs are skipped, interrupted ones resume from their checkpoints. restart: see
    common.rungroup.RunGroup. Returns the exit code."""
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
            save_arrays(run.path / "weights_pre.npz", net.weights(k))
    else:
        net.set_states([{key: v for key, v in r.resumed_state.items() if key != "epoch"}
                        for r in runs])
    X = np.stack([s.X for s in scheds])                                        # (K, P, 9)
    T = np.stack([s.T for s in scheds])                                        # (K, P, 4)
    per_epoch = scheds[0].per_epoch
    rec = list(dict.fromkeys(key for c in cfgs if c.training.save_traces for key in record_list(c)))
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
            states = net.get_states()
            for k, run in enumerate(runs):
                if alive[k]:
                    run.save_checkpoint(dict(states[k], epoch=e1))
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
        own = {key: res.traces[key] for key in record_list(cfg)}   # the ensemble records the union
        save_arrays(run.path / "traces" / f"train_epochs_{e0 + 1:05d}-{e1:05d}.npz",
                    named_traces(own, k))
    if e1 in (t.snapshot_epochs or []):
        save_arrays(run.path / f"weights_epoch{e1:05d}.npz", net.weights(k))
    return True


def _finish(group, net, runs, cfgs, alive, n, c, per_epoch):
    """Final evaluation (model §4.2 step 6) of the networks still alive; completes their runs."""
    for k, run in enumerate(runs):
        if alive[k]:
            save_arrays(run.path / "weights_post.npz", net.weights(k))
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
