"""The quick profile of reproduce.py: the reduced-size runs of every panel (panels.py) for the data
found, and what they cost.

Sizes are chosen so that the whole plan fits in 10 minutes on 2 idle CPU cores. Each step's estimate
(seconds of one core with one math thread) is the step model of panels.py (interpreter start plus
the step costs of step_costs.py times the step's Euler steps) times its panel's factor in
CALIBRATION, the measured CPU time of the panel's steps over their model; the estimates order the
steps and drive the progress display. Every run writes a standard run folder under the runs root,
where make_figures.py finds it.

    python scripts/plan_quick.py --calibrate [--data-root DIR] [--only fig2b,...]

runs every step of the plan here, one at a time with one math thread, and prints each step's model,
CPU and wall seconds and the factors per panel.
"""
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common.cli import UsageParser, entry_point
from panels import BY_ID, PANEL_IDS, PANELS
from step_runner import ONE_THREAD, REPO, fmt_s

# measured CPU seconds / modelled seconds of each panel's quick steps: `python scripts/plan_quick.py
# --calibrate --data-root DIR` with Fashion-MNIST standing in for MNIST and no HIGGS or CIFAR-10 (so
# fig2cde's factor comes from its MNIST steps), 2026-12-07 on the 2-core development machine (AMD EPYC;
# other people's jobs kept the load average at 1-9), against the step costs of step_costs.json
CALIBRATION = {"fig1": 0.60, "fig2a": 0.56, "fig2b": 1.00, "fig2cde": 1.30, "fig3": 1.13, "fig4a": 1.11,
               "fig4c": 1.18, "fig5": 0.50}

MNIST_PANELS = tuple(p.id for p in PANELS if any(ds == "mnist" for _, ds in p.needs))


def missing_data(ds):
    """Why a part is skipped, with the command that gets its data."""
    if ds == "mnist":
        return ("neither MNIST nor Fashion-MNIST found; get it with `python scripts/fetch_data.py mnist` "
                "(or apt-get install dataset-fashion-mnist for the stand-in)")
    return f"{ds} not found: `python scripts/fetch_data.py {ds}`"


def detect_data(root=None):
    """{name: True/False} for mnist, fashion_mnist, cifar10, higgs under the data root."""
    from common.data import DataMissing, higgs_path, load_vision

    found = {}
    for name in ("mnist", "fashion_mnist", "cifar10"):
        try:
            load_vision(name, train=False, root=root, download=False)
            found[name] = True
        except DataMissing:
            found[name] = False
    try:
        higgs_path(root)
        found["higgs"] = True
    except DataMissing:
        found["higgs"] = False
    return found


def stand_in_banner(panels):
    return ("*" * 100 + "\n*** MNIST is not under the data root: Fashion-MNIST STANDS IN FOR MNIST in "
            f"{', '.join(panels)}.\n*** Those numbers are not comparable with the paper's MNIST values. "
            "Get MNIST: python scripts/fetch_data.py mnist\n" + "*" * 100)


def quick_steps(data, runs, only=None, calibration=None):
    """(steps, skipped [(panel, why)], banners) for the panels in `only` (default: all); steps come
    longest first, so that parallel jobs finish together. calibration: {panel: factor} (default
    CALIBRATION; {} gives the uncalibrated step model)."""
    calibration = CALIBRATION if calibration is None else calibration
    runs = Path(runs)
    want = [p for p in PANEL_IDS if only is None or p in only]
    vision = "mnist" if data.get("mnist") else "fashion_mnist" if data.get("fashion_mnist") else None
    have = dict(data, vision=vision, mnist=vision is not None)
    steps, skipped, banners = [], [], []
    stand_in = [p for p in want if p in MNIST_PANELS]
    if stand_in and vision == "fashion_mnist":
        banners.append(stand_in_banner(stand_in))
    for panel in (BY_ID[p] for p in want):
        missing = [(label, ds) for label, ds in panel.needs if not have.get(ds)]
        for label, ds in missing:
            label = panel.id if len(panel.needs) == 1 else label
            skipped.append((label, missing_data(ds)))
        if len(missing) < len(panel.needs) or not panel.needs:
            steps += panel.quick(runs, have)
    for step in steps:
        step.est_s *= calibration.get(step.panel, 1.0)
    steps.sort(key=lambda s: -s.est_s)
    return steps, skipped, banners


def calibrate(only=None):
    """Run the plan's steps one at a time (one math thread) into a temporary runs root; print each
    step's model, CPU and wall seconds and, per panel, CPU / model as a CALIBRATION dict."""
    data = detect_data()
    with tempfile.TemporaryDirectory() as tmp:
        steps, skipped, _ = quick_steps(data, Path(tmp), only, calibration={})
        for panel, why in skipped:
            print(f"skipped {panel}: {why}")
        model, cpu = {}, {}
        env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg", **ONE_THREAD)
        for step in sorted(steps, key=lambda s: (s.panel, s.name)):
            r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
            code = subprocess.run(step.argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL).returncode
            r1, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic() - t0
            used = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
            model[step.panel] = model.get(step.panel, 0.0) + step.est_s
            cpu[step.panel] = cpu.get(step.panel, 0.0) + used
            print(f"{step.name}: model {fmt_s(step.est_s)}, CPU {fmt_s(used)}, wall {fmt_s(wall)}"
                  f"{'' if code == 0 else f', EXIT {code}'}; load average {os.getloadavg()[0]:.1f}", flush=True)
    print("CALIBRATION = {" + ", ".join(f'"{p}": {cpu[p] / model[p]:.2f}' for p in sorted(model)) + "}")
    return 0


@entry_point
def main(argv=None):
    parser = UsageParser(description="measure the quick profile's steps here")
    parser.add_argument("--calibrate", action="store_true", help="run every step of the plan, one at a time")
    parser.add_argument("--data-root", type=Path, default=None, help="data folder (default: $LE_DATA_DIR, else data/)")
    parser.add_argument("--only", default=None, help=f"comma-separated panels: {','.join(PANEL_IDS)}")
    args = parser.parse_args(argv)
    if not args.calibrate:
        parser.error("nothing to do without --calibrate")
    only = [p.strip() for p in args.only.split(",")] if args.only else None
    unknown = [p for p in only or () if p not in PANEL_IDS]
    if unknown:
        parser.error(f"--only: unknown panel {', '.join(unknown)} (allowed: {', '.join(PANEL_IDS)})")
    if args.data_root is not None:
        os.environ["LE_DATA_DIR"] = str(args.data_root.resolve())
    return calibrate(only)


if __name__ == "__main__":
    sys.exit(main())
