"""Bars task (Fig. 3): train one config, evaluate a run folder, or sweep configs x seeds as ensembles.

  python run_bars.py train CONFIG.yaml [--seed S] [--out DIR] [--restart] [key=value ...]
  python run_bars.py eval RUN_DIR
  python run_bars.py sweep CONFIG.yaml ... --seeds 12345-12354 [--root DIR] [--restart] [key=value ...]

A sweep simulates all (config, seed) runs that share the step count per pattern as one ensemble and
writes one standard run folder per (config, seed), identical to what `train` writes for that run.
"""
import csv
import sys
import time
from pathlib import Path

import numpy as np

from common.cli import UsageParser, entry_parser, entry_point, parse_entry_args
from common.config import load_config
from common.errors import Diverged, Interrupted, UsageError
from common.runfolder import default_run_dir

from fig3fig5_dendritic_microcircuits.src.config import BarsConfig
from fig3fig5_dendritic_microcircuits.src.dataset import bars_patterns, one_hot_targets
from fig3fig5_dendritic_microcircuits.src.network import Microcircuits
from fig3fig5_dendritic_microcircuits.src.protocol import (epoch_metrics, eval_sequences, metrics,
                                                           train_schedule)
from fig3fig5_dendritic_microcircuits.src.runfolders import RunGroup, split_state, stack_states

FOLDER = Path(__file__).resolve().parents[1]
STEPS_PER_BLOCK = 20_000_000      # network-steps between checkpoints (~40 s compiled)


def bars_data(cfg):
    t = cfg.training
    x, labels = bars_patterns(drop_last=t.bars_drop_last_pattern)
    y = one_hot_targets(labels, cfg.network.dims[-1], t.u_tgt_high, t.u_tgt_low)
    return x, y          # train = val = test (spec Q8)


def build(cfgs):
    """Networks (reflected if init_selfpred) and their schedules; draws follow spec §1.1, §4.2."""
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


def record_list(cfg):
    out = []
    for i, quants in enumerate(cfg.training.recorded_quants):
        out += [(i, q) for q in quants]
    return out + [("run", "r_in"), ("run", "u_tgt")]


def blocks(cfg, K):
    """Epoch blocks between checkpoints; snapshot epochs always end a block."""
    n = cfg.network.steps(cfg.network.t_pattern)
    per = max(1, STEPS_PER_BLOCK // (n * K * 16))
    ends = set(range(per, cfg.training.n_epochs, per)) | {cfg.training.n_epochs}
    ends |= set(cfg.training.snapshot_epochs or [])
    ends = sorted(ends)
    return list(zip([0] + ends[:-1], ends))


def evaluate(net, cfgs, n):
    """Spec §4.2 step 6: train set then test set, each from zero potentials, no nudging, no learning.
    Returns per network {split: dict(metrics, sequences, traces)}."""
    K = net.K
    x_y = [bars_data(c) for c in cfgs]
    res = [{} for _ in range(K)]
    for split in ("train", "test"):
        seqs = [eval_sequences(net.rngs[k], *x_y[k]) for k in range(K)]
        X = np.stack([s[0] for s in seqs])                                 # (K, P, 9)
        T = np.stack([s[1] for s in seqs])                                 # (K, P, 4)
        L = net.lay.n_layers
        c = max(1, cfgs[0].network.steps(cfgs[0].training.record_dt))
        r = net.run(X, T, learn=False, n=n, record=[(L - 1, "pyr_forw"), ("run", "u_tgt"),
                                                    ("run", "r_in")], record_every=c)
        for k in range(K):
            mse, acc = metrics(r.out[k], T[k, :, :-1], cfgs[k].training.eval_metric == "accuracy")
            res[k][split] = {"mse": mse, "acc": acc, "x": X[k], "y": T[k, :, :-1], "out": r.out[k],
                             "u_out": r.traces[(L - 1, "pyr_forw")][k],
                             "u_tgt": r.traces[("run", "u_tgt")][k],
                             "r_in": r.traces[("run", "r_in")][k],
                             "time": np.linspace(cfgs[k].network.dt,
                                                 r.traces[("run", "u_tgt")].shape[1] * c
                                                 * cfgs[k].network.dt,
                                                 r.traces[("run", "u_tgt")].shape[1]),
                             "diverged": bool(r.diverged_at[k] >= 0)}
    return res


def save_eval(path, split, d):
    np.savez(path / f"eval_{split}.npz", **{k: np.asarray(v) for k, v in d.items()})


def train_group(jobs, restart=False):
    """Train the runs `jobs` [(cfg, out_dir)] (same dims and steps per pattern) as one ensemble."""
    with RunGroup(jobs, restart) as group:
        pending = list(zip(group.runs, group.run_cfgs))
        by_epoch = {}
        for run, cfg in pending:
            st = run.resumed_state
            by_epoch.setdefault(st["epoch"] if st else 0, []).append((run, cfg))
        for start, members in sorted(by_epoch.items()):
            _train_members(group, members, start)
    return group.exit_code


def _train_members(group, members, start):
    runs = [m[0] for m in members]
    cfgs = [m[1] for m in members]
    cfg0 = cfgs[0]
    n = cfg0.network.steps(cfg0.network.t_pattern)
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
    n_val = cfg0.training.n_val_samples
    rec = record_list(cfg0)
    c = max(1, cfg0.network.steps(cfg0.training.record_dt))
    alive = [True] * K
    t0 = time.monotonic()
    for e0, e1 in blocks(cfg0, K):
        if e1 <= start:
            continue
        sl = slice(e0 * per_epoch, e1 * per_epoch)
        learn = T[:, sl, -1] == 1.0
        res = net.run(X[:, sl], T[:, sl], learn=learn, n=n,
                      record=rec if cfg0.training.save_traces else (), record_every=c,
                      reset=(e0 == 0), finalize=(e1 == cfg0.training.n_epochs))
        for k, run in enumerate(runs):
            if not alive[k]:
                continue
            run.add_steps((e1 - e0) * per_epoch * n)
            rows = epoch_metrics(res.out[k], T[k, sl], per_epoch, n_val,
                                 cfgs[k].training.eval_metric == "accuracy")
            div_epoch = None
            if res.diverged_at[k] >= 0:
                div_epoch = e0 + int(res.diverged_at[k]) // per_epoch + 1
                rows = rows[:div_epoch - 1 - e0]
            for j, (mse, acc) in enumerate(rows):
                if not np.isfinite(mse):
                    div_epoch = e0 + j + 1
                    break
                run.log_metrics(epoch=e0 + j + 1, split="val", loss=mse, error=100.0 - acc,
                                accuracy=acc, patterns_seen=(e0 + j + 1) * (per_epoch - n_val))
            if div_epoch is not None:
                alive[k] = False
                net.active[k] = False
                group.mark(run, Diverged(div_epoch, f"|voltage| > {1e4:g} or not finite"))
                continue
            if cfg0.training.save_traces:
                tdir = run.path / "traces"
                tdir.mkdir(exist_ok=True)
                np.savez(tdir / f"train_epochs_{e0 + 1:05d}-{e1:05d}.npz",
                         **{f"layer_{key[0]}_{key[1]}": v[k] for key, v in res.traces.items()})
            if e1 in (cfgs[k].training.snapshot_epochs or []):
                net.save_weights(run.path / f"weights_epoch{e1:05d}.npz", k)
        state = net.get_state()
        for k, run in enumerate(runs):
            if alive[k]:
                run.save_checkpoint(dict(split_state(state, k), epoch=e1))
        done = sum(alive)
        print(f"N={n}: epochs {e1}/{cfg0.training.n_epochs}, {done}/{K} networks running, "
              f"{time.monotonic() - t0:.0f}s", flush=True)
        sig = group.stop_signal()
        if sig is not None:
            for run in runs:
                group.mark(run, Interrupted(sig))
            return
        if not any(alive):
            return
    for k, run in enumerate(runs):
        if alive[k]:
            net.save_weights(run.path / "weights_post.npz", k)
    ev = evaluate(net, cfgs, n)
    E = cfg0.training.n_epochs
    for k, run in enumerate(runs):
        if not alive[k]:
            continue
        for split in ("train", "test"):
            d = ev[k][split]
            save_eval(run.path, split, d)
            run.log_metrics(epoch=E, split=split, loss=d["mse"], error=100.0 - d["acc"],
                            accuracy=d["acc"], patterns_seen=E * (per_epoch - n_val))
        run.add_steps(2 * len(ev[k]["test"]["x"]) * n)
        run.complete({"test_loss": ev[k]["test"]["mse"], "test_accuracy": ev[k]["test"]["acc"],
                      "train_loss": ev[k]["train"]["mse"], "train_accuracy": ev[k]["train"]["acc"],
                      "final_val_loss": rows_last(run), "engine": net.engine})
        group.mark(run, None)


def rows_last(run):
    with open(run.path / "metrics.csv") as f:
        vals = [r for r in csv.DictReader(f) if r["split"] == "val"]
    return float(vals[-1]["loss"]) if vals else None


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            raise UsageError(f"--seeds: {text!r} is not like 12345-12354 or 1,2,3")
        seeds += list(range(lo, hi + 1))
    return seeds


def cmd_train(argv):
    parser = entry_parser(prog="run_bars.py train", seed_key="training.seed")
    cfg, a = parse_entry_args(BarsConfig, argv, parser=parser)
    out = a.out or default_run_dir(FOLDER, a.config, cfg.training.seed)
    return train_group([(cfg, out)], a.restart)


def cmd_sweep(argv):
    p = UsageParser(prog="run_bars.py sweep")
    p.add_argument("items", nargs="+", metavar="CONFIG.yaml|key=value")
    p.add_argument("--seeds", required=True)
    p.add_argument("--root", type=Path, default=None, help="run folders go to ROOT/<stem>/seed<S>")
    p.add_argument("--restart", action="store_true")
    a = p.parse_intermixed_args(argv)
    configs = [Path(x) for x in a.items if "=" not in x]
    over = [x for x in a.items if "=" in x]
    if not configs:
        raise UsageError("sweep needs at least one CONFIG.yaml")
    groups = {}
    for path in configs:
        for seed in parse_seeds(a.seeds):
            cfg = load_config(BarsConfig, path, over + [f"training.seed={seed}"])
            out = (a.root / path.stem / f"seed{seed}") if a.root else default_run_dir(FOLDER, path, seed)
            nw = cfg.network
            key = (nw.steps(nw.t_pattern), tuple(nw.dims), nw.bias.on, cfg.training.engine,
                   cfg.training.n_epochs, cfg.training.n_val_samples,
                   cfg.training.bars_drop_last_pattern, cfg.training.record_dt,
                   cfg.training.save_traces,
                   str(cfg.training.recorded_quants) if cfg.training.save_traces else "",
                   str(cfg.training.snapshot_epochs))
            groups.setdefault(key, []).append((cfg, out))
    code = 0
    for key, jobs in groups.items():
        print(f"ensemble of {len(jobs)} runs, {key[0]} steps per pattern", flush=True)
        code = max(code, train_group(jobs, a.restart))
        if code >= 128:
            break
    return code


def cmd_eval(argv):
    p = UsageParser(prog="run_bars.py eval")
    p.add_argument("run_dir", type=Path)
    a = p.parse_args(argv)
    from fig3fig5_dendritic_microcircuits.src.bars_eval import evaluate_run_folder
    return evaluate_run_folder(a.run_dir)


@entry_point
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in ("train", "eval", "sweep"):
        raise UsageError("usage: run_bars.py train|eval|sweep ... (see the module docstring)")
    return {"train": cmd_train, "eval": cmd_eval, "sweep": cmd_sweep}[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
