"""READMEs a newcomer reads in five minutes: the top level <= 80 lines, each experiment folder's and
scripts/ <= 120; the relative links of the READMEs and docs/ lead to files that exist."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIMITS = {
    "README.md": 80,
    "fig2b_fig4ac_mnist/README.md": 120,
    "fig2cde_higgs_mnist_cifar10/README.md": 120,
    "fig3fig5_dendritic_microcircuits/README.md": 120,
    "scripts/README.md": 120,
}
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("path, limit", sorted(LIMITS.items()))
def test_readme_stays_within_its_line_limit(path, limit):
    n = len((REPO / path).read_text().rstrip("\n").split("\n"))
    assert n <= limit, f"{path} has {n} lines, at most {limit}: move shared prose to docs/running.md"


def test_top_level_readme_names_the_file_to_read_first_in_each_folder():
    text = (REPO / "README.md").read_text()
    start = text.split("## Start here", 1)[1].split("\n## ", 1)[0]
    for folder, code in (("fig2b_fig4ac_mnist", "src/network.py"),
                         ("fig2cde_higgs_mnist_cifar10", "model/le_layers.py"),
                         ("fig3fig5_dendritic_microcircuits", "src/engine_numpy.py")):
        assert folder in start and code in start
        assert (REPO / folder / code).is_file(), f"{folder}/{code}"


def test_relative_links_of_readmes_and_docs_exist():
    docs = [REPO / p for p in LIMITS] + sorted((REPO / "docs").rglob("*.md"))
    bad = []
    for doc in docs:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            if not (doc.parent / target).exists():
                bad.append(f"{doc.relative_to(REPO)}: {target}")
    assert not bad, "\n".join(bad)
