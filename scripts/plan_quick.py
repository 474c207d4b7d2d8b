"""The quick profile of reproduce.py: the reduced-size runs of every panel (panels.py) for the data
found, and what they cost.

Sizes are chosen so that the whole plan takes about 7 minutes on 2 idle CPU cores (<= 10 minutes);
the estimates (seconds of one core with one math thread, interpreter start included, from the step
costs in step_costs.py) order the steps and drive the progress display. Every run writes a standard
run folder under the runs root, where make_figures.py finds it.
"""
from pathlib import Path

from panels import BY_ID, PANEL_IDS, PANELS

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


def quick_steps(data, runs, only=None):
    """(steps, skipped [(panel, why)], banners) for the panels in `only` (default: all); steps come
    longest first, so that parallel jobs finish together."""
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
    steps.sort(key=lambda s: -s.est_s)
    return steps, skipped, banners
