"""The standard arguments of an entry script and the exit-code-2 wrapper for user mistakes."""
import argparse
import functools
import sys
from pathlib import Path

from common.config import load_config
from common.errors import UsageError


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes raise UsageError (one line, exit 2) instead of exiting."""

    def error(self, message):
        raise UsageError(message)


def entry_parser(description=None, prog=None, seed_key=None):
    """CONFIG.yaml [key=value ...] [--out DIR] [--restart], and `--seed S` when `seed_key` names
    the config key it sets; extend it with add_argument if needed."""
    parser = UsageParser(description=description, prog=prog)
    parser.add_argument("config", type=Path, help="YAML config file")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="override config keys (dotted for nested keys)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder (default: <folder>/runs/<config stem>/seed<seed>)")
    parser.add_argument("--restart", action="store_true",
                        help="discard an existing run folder of a different config and start over")
    if seed_key:
        parser.add_argument("--seed", type=int, default=None, help=f"shorthand for {seed_key}=S")
        parser.set_defaults(seed_key=seed_key)
    return parser


def parse_entry_args(cfg_cls, argv=None, description=None, parser=None):
    """Parse the standard arguments and load the config; returns (cfg, args)."""
    parser = parser or entry_parser(description)
    args = parser.parse_intermixed_args(argv)
    overrides = list(args.overrides)
    if getattr(args, "seed", None) is not None:
        overrides.append(f"{args.seed_key}={args.seed}")
    cfg = load_config(cfg_cls, args.config, overrides)
    return cfg, args


def parse_seeds(text):
    """'1-10', '42,69' or '1-3,7' -> list of ints; an empty range (5-1), a seed named twice or
    anything else is a UsageError."""
    seeds = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            lo, hi = int(lo), int(hi or lo)
        except ValueError:
            raise UsageError(f"--seeds: {text!r} is not like 1-10, 42,69 or 1-3,7") from None
        if hi < lo:
            raise UsageError(f"--seeds: the range {part.strip()!r} is empty (write low-high)")
        seeds += range(lo, hi + 1)
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds: {text!r} names a seed twice")
    return seeds


def entry_point(main):
    """Run `main`; a UsageError prints one line on stderr and exits with code 2, a Ctrl-C that no
    run folder caught (e.g. while data loads) one line and exit code 130."""
    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UsageError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted; rerun the same command to go on", file=sys.stderr)
            return 130
    return wrapper
