"""Performance targets (listed in scripts/README.md), each measured as a ratio (or time) inside one process.

    python scripts/bench.py fc|lenet|microcircuit|all [--json] [--quick]

Each target lives in `scripts/bench_<name>.py` with `measure(quick) -> list[dict]` (rows with name,
value, goal, better = higher|lower, unit, details, and `skip`: the reason when the row could not be
measured here, e.g. "no CUDA"). This script runs them, prints every row as measured vs goal with
PASS/FAIL (SKIP with the reason for skipped rows, never PASS), and exits 0 only when no row fails. A module that is absent,
fails to import or raises is reported as MISSING/ERROR, and the other benchmarks still run.
"""
import importlib.util
import json
import math
import sys
import time
import traceback
from pathlib import Path

from common.cli import UsageParser, entry_point

SCRIPTS = Path(__file__).resolve().parent
BENCHES = ("fc", "lenet", "microcircuit")
ROW_KEYS = {"name": str, "value": (int, float), "goal": (int, float), "better": str, "unit": str}


def verdict(row):
    """PASS/FAIL of one measured row against its goal (NaN or inf never passes)."""
    value, goal = float(row["value"]), float(row["goal"])
    if not math.isfinite(value):
        return "FAIL"
    ok = value >= goal if row["better"] == "higher" else value <= goal
    return "PASS" if ok else "FAIL"


def _check_row(row):
    """Return None when `row` follows the contract, else what is wrong with it."""
    if not isinstance(row, dict):
        return f"row is {type(row).__name__}, not dict"
    for key, typ in ROW_KEYS.items():
        if key not in row:
            return f"row lacks key '{key}'"
        if not isinstance(row[key], typ) or isinstance(row[key], bool):
            return f"row key '{key}' has type {type(row[key]).__name__}"
    if row["better"] not in ("higher", "lower"):
        return f"row key 'better' is {row['better']!r}, not 'higher' or 'lower'"
    return None


def _load(name, modules_dir):
    path = Path(modules_dir) / f"bench_{name}.py"
    if not path.exists():
        return None, f"{path} does not exist"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "measure", None)):
        raise AttributeError(f"{path} has no measure(quick) function")
    return module, None


def run_bench(name, quick=False, modules_dir=SCRIPTS):
    """Run one benchmark module; returns a list of result rows, each with `status` and `bench`."""
    base = {"bench": name, "name": name, "value": None, "goal": None, "better": None, "unit": "",
            "details": {}}
    t0 = time.perf_counter()
    try:
        module, missing = _load(name, modules_dir)
        if module is None:
            return [{**base, "status": "MISSING", "error": missing}]
        rows = module.measure(quick=quick)
    except Exception as err:  # a broken benchmark must not stop the others
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        return [{**base, "status": "ERROR", "error": last}]
    seconds = time.perf_counter() - t0
    if not isinstance(rows, list) or not rows:
        return [{**base, "status": "ERROR", "error": "measure() returned no list of rows"}]
    out = []
    for row in rows:
        problem = _check_row(row)
        if problem:
            out.append({**base, "status": "ERROR", "error": problem})
            continue
        status = "SKIP" if row.get("skip") else verdict(row)
        out.append({**base, **row, "value": float(row["value"]), "goal": float(row["goal"]),
                    "details": row.get("details", {}), "status": status, "seconds": seconds})
    return out


def format_table(rows):
    lines = [f"{'benchmark':<44} {'measured':>12} {'goal':>14}  result"]
    for row in rows:
        if row["status"] in ("MISSING", "ERROR"):
            lines.append(f"{row['bench'] + ': ' + row['name']:<44} {'-':>12} {'-':>14}  "
                         f"{row['status']} ({row['error']})")
            continue
        op = ">=" if row["better"] == "higher" else "<="
        unit = f" {row['unit']}" if row["unit"] else ""
        if row["status"] == "SKIP":
            lines.append(f"{row['bench'] + ': ' + row['name']:<44} {'-':>12} "
                         f"{op + ' ' + format(row['goal'], '.4g') + unit:>14}  SKIP ({row['skip']})")
            continue
        lines.append(f"{row['bench'] + ': ' + row['name']:<44} {row['value']:>12.4g} "
                     f"{op + ' ' + format(row['goal'], '.4g') + unit:>14}  {row['status']}")
        for key, val in row["details"].items():
            val = f"{val:.4g}" if isinstance(val, float) else val
            lines.append(f"    {key}: {val}")
    return "\n".join(lines)


@entry_point
def main(argv=None, modules_dir=SCRIPTS):
    parser = UsageParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=BENCHES + ("all",), help="benchmark to run")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--quick", action="store_true", help="short runs (< 20 s each; smoke only)")
    args = parser.parse_args(argv)
    names = BENCHES if args.which == "all" else (args.which,)
    rows = []
    for name in names:
        if not args.json:
            print(f"running bench_{name}{' (quick)' if args.quick else ''} ...", flush=True)
        rows += run_bench(name, quick=args.quick, modules_dir=modules_dir)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(format_table(rows))
        n_pass = sum(r["status"] == "PASS" for r in rows)
        n_skip = sum(r["status"] == "SKIP" for r in rows)
        print(f"{n_pass}/{len(rows)} targets met" + (f", {n_skip} skipped" if n_skip else "")
              + (" (quick run: timings are rough)" if args.quick else ""))
    return 0 if all(r["status"] in ("PASS", "SKIP") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
