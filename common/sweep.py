"""The sweep command line of every experiment folder: configs x variants x seeds, one standard run
folder per run, the runs trained as few ensembles as possible (common/rungroup.py).

    <entry> sweep CONFIG.yaml [CONFIG.yaml ...] --seeds 1-10 [key=value ...]
        [--variant NAME "key=value ..." ...] [--root DIR] [--name PATTERN]
        [--restart] [--restart-run RUN_DIR ...]

Run folders: ROOT/NAME/seed<S> (ROOT: <experiment folder>/runs; NAME: `--name` with `{stem}` the
config's file stem and `{variant}` the variant's name; default `{stem}`), so a sweep writes the
folders its single runs would write by default. Overrides apply in the order variant, sweep, seed.
`--restart` starts over only the runs whose folders cannot be resumed (another config, unreadable
records, a broken checkpoint); `--restart-run RUN_DIR` starts over the named runs whatever their
status. Completed and diverged runs stay as they are unless named.

An entry script uses it as

    sweep = parse_sweep(argv, Config, FOLDER, prog="train.py sweep")
    return run_sweep(sweep, PER_NETWORK, train_group)

PER_NETWORK: the config keys (dotted for nested sections, e.g. "training.seed") that the networks of
one ensemble may each set for themselves; runs whose configs agree on every other key are one
ensemble (`ensemble_key`). train_group(jobs, restart) -> exit code trains jobs [(cfg, out_dir)] of one
ensemble key as one ensemble, passing `restart` (a `common.rungroup.Restart`) on to `RunGroup`; the
single-run command calls the same function with [(cfg, out)] and its bool `--restart`.
`sweep_parser(prog)` is the bare argument parser (for tools that read sweep commands).
"""
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from common.cli import UsageParser, parse_seeds
from common.config import config_to_dict, load_config
from common.errors import UsageError
from common.rungroup import Restart, run_ensembles


@dataclass(frozen=True)
class Sweep:
    jobs: list          # [(cfg, out_dir)], ordered config, variant, seed
    restart: Restart    # which runs start over (for RunGroup)


def sweep_parser(prog):
    p = UsageParser(prog=prog, description="configs x variants x seeds, trained as ensembles")
    p.add_argument("items", nargs="+", metavar="CONFIG.yaml|key=value")
    p.add_argument("--seeds", required=True, help="e.g. 1-10, 42,69,12345 or 1-3,7")
    p.add_argument("--root", type=Path, default=None,
                   help="parent of the run folders (default: runs/ of the experiment folder)")
    p.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "OVERRIDES"),
                   help="a variant of every config: its name and key=value overrides (repeatable)")
    p.add_argument("--name", default="{stem}",
                   help="run folder name under ROOT ({stem}: config stem, {variant}: variant name)")
    p.add_argument("--restart", action="store_true",
                   help="start over the runs whose folders cannot be resumed (another config, broken "
                        "files); completed and diverged runs stay")
    p.add_argument("--restart-run", type=Path, action="append", default=[], metavar="RUN_DIR",
                   help="start over this run folder of the sweep whatever its status (repeatable)")
    return p


def parse_sweep(argv, cfg_cls, folder, seed_key="seed", prog="sweep"):
    """The sweep's runs from its command line; every mistake is a one-line UsageError.
    folder: the experiment folder (default ROOT is folder/runs); seed_key: the config key `--seeds`
    sets (dotted for a nested one)."""
    a = sweep_parser(prog).parse_intermixed_args(argv)
    configs = [Path(x) for x in a.items if "=" not in x]
    overrides = [x for x in a.items if "=" in x]
    if not configs:
        raise UsageError("sweep needs at least one CONFIG.yaml")
    variants = [(name, shlex.split(text)) for name, text in a.variant or [("", "")]]
    for o in overrides + [o for _, v in variants for o in v]:
        if o.split("=", 1)[0].strip() == seed_key:
            raise UsageError(f"sweep: give the seeds with --seeds, not {seed_key}=")
    root = a.root if a.root is not None else Path(folder) / "runs"
    seeds = parse_seeds(a.seeds)
    jobs, outs = [], set()
    for path in configs:
        for variant, variant_overrides in variants:
            try:
                name = a.name.format(stem=path.stem, variant=variant)
            except (KeyError, IndexError, ValueError):
                raise UsageError(f"--name {a.name!r}: only {{stem}} and {{variant}} can be filled in") from None
            for seed in seeds:
                cfg = load_config(cfg_cls, path, variant_overrides + overrides + [f"{seed_key}={seed}"])
                out = root / name / f"seed{seed}"
                if out in outs:
                    raise UsageError(f"two runs would write {out}; put {{stem}} or {{variant}} into --name")
                outs.add(out)
                jobs.append((cfg, out))
    named = {Path(d).resolve() for d in a.restart_run}
    unknown = named - {out.resolve() for out in outs}
    if unknown:
        raise UsageError(f"--restart-run {sorted(unknown)[0]} is not a run folder of this sweep "
                         f"(they are ROOT/NAME/seed<S>, e.g. {jobs[0][1]})")
    return Sweep(jobs, Restart(runs=frozenset(named), broken=a.restart))


def ensemble_key(cfg, per_network):
    """Runs with equal keys can be stepped as one ensemble: every config key except those in
    `per_network` (dotted names for nested sections) is equal."""
    per_network = set(per_network)
    flat = {}

    def walk(d, prefix):
        for k, v in d.items():
            if prefix + k in per_network:
                continue
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            else:
                flat[prefix + k] = v

    walk(config_to_dict(cfg), "")
    return json.dumps(flat, sort_keys=True, default=str)


def run_sweep(sweep, per_network, train_group, describe=None):
    """Train the sweep as one ensemble per ensemble_key (in the order the keys first appear), each
    announced as `ensemble of K runs[, describe(cfg)]`; after an interrupted ensemble the rest is left
    for the rerun. Returns the largest exit code."""
    def train(group_jobs):
        detail = f", {describe(group_jobs[0][0])}" if describe else ""
        print(f"ensemble of {len(group_jobs)} run{'s' if len(group_jobs) > 1 else ''}{detail}", flush=True)
        return train_group(group_jobs, sweep.restart)

    return run_ensembles(sweep.jobs, lambda cfg: ensemble_key(cfg, per_network), train)
