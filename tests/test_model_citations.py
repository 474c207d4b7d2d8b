"""Every citation of the model documents resolves, and none points outside the repository.

docs/model/<folder>.md holds the model of one experiment folder; its sections (§n.m) and quirks (Qn,
Fn, Tn) are headings. Inside an experiment folder (and in its tests/ folder) `model §n.m` / `model Qn`
and bare §-, Q- references cite that folder's document; anywhere, `docs/model/<folder>.md §1.4` cites the
named one. Each cited section or quirk must exist as a heading of the right document.
"""
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "model"
FOLDERS = ("fig2b_fig4ac_mnist", "fig2cde_higgs_mnist_cifar10", "fig3fig5_dendritic_microcircuits")
TEXT_SUFFIXES = {".py", ".sh", ".yaml", ".yml", ".md", ".txt", ".toml", ".cfg"}

HEADING = re.compile(r"^#{1,6}\s+(§\d+(?:\.\d+)*|[QFT]\d+)\b", re.M)
SECTION = r"§\d+(?:\.\d+)*(?:\s*[-–]\s*§?\d+(?:\.\d+)*)?"  # §1.3, §1.3-1.5, §1-§3
ONE = rf"(?:{SECTION}|\b[QFT]\d+\b)(?:\s+(?:steps?|tests?|items?)\s+\d+[a-z]?(?:\s*[-–,]\s*\d+[a-z]?)*)?"
REFS = rf"{ONE}(?:\s*(?:,|and|/)?\s*{ONE})*"
MODEL_CITE = re.compile(rf"\b[Mm]odel\s+({REFS})")
PATH_CITE = re.compile(rf"docs/model/([A-Za-z0-9_]+)\.md(?:\s+({REFS}))?")
BARE_SECTION = re.compile(SECTION)
BARE_QUIRK = re.compile(r"\bQ\d+\b")
REF_ITEM = re.compile(r"§(\d+(?:\.\d+)*)(?:\s*[-–]\s*§?(\d+(?:\.\d+)*))?|\b([QFT]\d+)\b")
# built from parts so that this file does not match itself
FORBIDDEN = re.compile("|".join(["sp" + r"ec §", "DES" + "IGN", "shared/" + "specs"]))


def repo_files():
    def ls(*args):
        out = subprocess.run(["git", "ls-files", *args], cwd=REPO, capture_output=True, text=True, check=True)
        return out.stdout.splitlines()
    paths = set(ls()) | set(ls("--others", "--exclude-standard"))
    keep = []
    for p in sorted(paths):
        f = REPO / p
        if (Path(p).suffix in TEXT_SUFFIXES or p == ".ci/run") and f.is_file():
            try:
                keep.append((p, f.read_text()))
            except UnicodeDecodeError:
                continue
    return keep


def headings(folder):
    return set(HEADING.findall((DOCS / f"{folder}.md").read_text()))


def home(path):
    """The experiment folder whose document `model §n` and bare references cite, or None."""
    parts = path.split("/")
    if parts[0] in FOLDERS:
        return parts[0]
    if parts[0] == "tests" and len(parts) > 2 and parts[1] in FOLDERS:
        return parts[1]
    if path.startswith("docs/model/") and Path(path).stem in FOLDERS:
        return Path(path).stem
    return None


def cited_ids(refs):
    """'§1.3-1.5, Q11' -> ['§1.3', '§1.5', 'Q11']; step/test/item numbers are not sections."""
    refs = re.sub(r"\b(?:steps?|tests?|items?)\s+\d+[a-z]?(?:\s*[-–,]\s*\d+[a-z]?)*", "", refs)
    ids = []
    for sec, end, quirk in REF_ITEM.findall(refs):
        if quirk:
            ids.append(quirk)
        else:
            ids.append("§" + sec)
            if end:
                ids.append("§" + end)
    return ids


def citations():
    """(file, line, document folder or None, cited id or None, text) for every citation found."""
    found = []
    for path, text in repo_files():
        folder = home(path)
        is_doc = path.startswith("docs/model/")
        for lineno, line in enumerate(text.splitlines(), 1):
            spans = []
            for m in PATH_CITE.finditer(line):
                spans.append(m.span())
                target = m.group(1)
                ids = cited_ids(m.group(2)) if m.group(2) else [None]
                for i in ids:
                    found.append((path, lineno, target, i, m.group(0)))
            for m in MODEL_CITE.finditer(line):
                if any(a <= m.start() < b for a, b in spans):
                    continue
                spans.append(m.span())
                for i in cited_ids(m.group(1)):
                    found.append((path, lineno, folder, i, m.group(0)))
            if folder is None:
                continue
            # bare references inside a folder, its tests and its document cite that folder's document
            for m in BARE_SECTION.finditer(line):
                if not any(a <= m.start() < b for a, b in spans):
                    for i in cited_ids(m.group(0)):
                        found.append((path, lineno, folder, i, m.group(0)))
            if is_doc or path.endswith((".md", ".yaml", ".py", ".sh")):
                for m in BARE_QUIRK.finditer(line):
                    if not any(a <= m.start() < b for a, b in spans):
                        found.append((path, lineno, folder, m.group(0), m.group(0)))
    return found


def test_each_model_document_exists_with_its_sections_and_quirks():
    for folder in FOLDERS:
        ids = headings(folder)
        assert {"§1", "§2", "Q1"} <= ids, f"docs/model/{folder}.md lacks numbered headings"


def test_every_citation_resolves_to_a_heading_of_the_right_document():
    found = citations()
    known = {folder: headings(folder) for folder in FOLDERS}
    bad = []
    for path, lineno, folder, ident, text in found:
        if folder is None:
            bad.append(f"{path}:{lineno}: '{text}' outside an experiment folder: write docs/model/<folder>.md")
        elif folder not in known:
            bad.append(f"{path}:{lineno}: '{text}' names a document that does not exist")
        elif ident is not None and ident not in known[folder]:
            bad.append(f"{path}:{lineno}: '{text}': {ident} is not a heading of docs/model/{folder}.md")
    assert not bad, "\n".join(bad)
    # the code cites the documents throughout; far fewer would mean the scan broke
    assert len(found) >= 300, len(found)


def test_no_reference_to_documents_outside_the_repository():
    bad = [f"{path}:{n}: {line.strip()}" for path, text in repo_files()
           for n, line in enumerate(text.splitlines(), 1) if FORBIDDEN.search(line)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("refs, ids", [
    ("§1.3-1.5, Q11", ["§1.3", "§1.5", "Q11"]),
    ("§1-§3", ["§1", "§3"]),
    ("§10 tests 5-10, Q6", ["§10", "Q6"]),
    ("§6 items 1-3, 9-11", ["§6"]),
    ("§8 T1, T2", ["§8", "T1", "T2"]),
])
def test_citation_lists_are_read_section_by_section(refs, ids):
    m = MODEL_CITE.search("model " + refs)
    assert m and cited_ids(m.group(1)) == ids
