"""The compiled engine against the numba it runs on: the installed numba lies in the range
requirements.txt names; if numba's internals that the engine tunes (vectoriser settings, the noalias
flag) are gone it still runs, with the numpy reference's numbers; if nothing compiles, 'auto' runs the
numpy engine with a one-line note; arrays that share memory never reach a no-alias kernel."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from fig3fig5_dendritic_microcircuits.src import engine_numba, network, run_bars
from fig3fig5_dendritic_microcircuits.src.engine_call import require_disjoint

from .helpers import net, params, random_schedule

REPO = Path(__file__).resolve().parents[2]
numba_only = pytest.mark.skipif(not engine_numba.AVAILABLE, reason="numba not importable")


def numba_requirement():
    lines = [ln.strip() for ln in (REPO / "requirements.txt").read_text().splitlines()]
    (line,) = [ln for ln in lines if ln.startswith("numba")]
    return Requirement(line)


@numba_only
def test_installed_numba_lies_in_the_bounded_range_of_requirements():
    spec = numba_requirement().specifier
    assert any(s.operator in ("<", "<=", "==", "~=") for s in spec), f"numba{spec} has no upper bound"
    assert Version(engine_numba.numba.__version__) in spec


# Runs in a fresh interpreter: the engine adapts to numba when it is imported.
COMPARE = """
import json
import numpy as np
from fig3fig5_dendritic_microcircuits.src import engine_numba
from tests.fig3fig5_dendritic_microcircuits.helpers import net, params, random_schedule

ps = [params(True), params(False), params(True, ablation="rates_from_soma")]
X, T, learn = random_schedule(3, 20, (9, 30, 3), seed=3)
res = {}
for engine in ("auto", "numpy"):
    m = net(ps, [10, 11, 12], engine=engine)
    r = m.run(X, T, learn=learn, n=10, record=[(0, "pyr_apical")], record_every=3)
    res[engine] = (m, r)
(a, ra), (b, rb) = res["auto"], res["numpy"]
print(json.dumps({"engine": a.engine, "note": a.engine_note, "notes": engine_numba.NOTES,
                  "out": float(np.abs(ra.out - rb.out).max()), "S": float(np.abs(a.S - b.S).max()),
                  "trace": float(np.abs(ra.traces[(0, "pyr_apical")] - rb.traces[(0, "pyr_apical")]).max())}))
"""

# numba's own modules keep the modules they imported; the engine looks them up afresh and finds
# neither the vectoriser settings nor the internal noalias flag
INTERNALS_GONE = """
import types
import numba
import numba.core.codegen, numba.core.compiler
real = numba.core.config
config = types.ModuleType(real.__name__)
config.__dict__.update({k: v for k, v in vars(real).items() if k not in ("SLP_VECTORIZE", "LOOP_VECTORIZE")})
numba.core.config = config
real = numba.core.compiler
compiler = types.ModuleType(real.__name__)
compiler.__dict__.update(vars(real))
compiler.Flags = types.SimpleNamespace(options={})
numba.core.compiler = compiler
"""

NOTHING_COMPILES = """
import numba

def njit(*args, **kwargs):
    raise TypeError("this numba compiles nothing")

numba.njit = njit
"""


def run_fresh(prelude):
    out = subprocess.run([sys.executable, "-c", prelude + COMPARE], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@numba_only
def test_engine_runs_with_default_settings_when_numba_internals_are_gone():
    r = run_fresh(INTERNALS_GONE)
    assert r["engine"] == "numba"
    assert len(r["notes"]) == 2 and all("\n" not in n for n in r["notes"])
    assert "SLP_VECTORIZE" in r["notes"][0] and "noalias" in r["notes"][1]
    assert r["note"] == "; ".join(r["notes"])
    # the tolerance of test_numba_engine_matches_numpy_reference
    assert r["out"] < 1e-5 and r["S"] < 1e-5 and r["trace"] < 1e-5


def test_auto_runs_the_numpy_engine_with_a_note_when_nothing_compiles():
    r = run_fresh(NOTHING_COMPILES)
    assert r["engine"] == "numpy" and r["out"] == r["S"] == r["trace"] == 0.0
    assert "\n" not in r["note"] and "cannot be built" in r["note"] and "numpy" in r["note"]


def test_disjoint_arrays_pass_and_shared_memory_is_refused():
    a = np.zeros(10, dtype=np.float32)
    require_disjoint(x=a[:5], y=a[5:], z=np.zeros(3), n=7)
    require_disjoint(x=a[::2], y=a[1::2])               # interleaved, no element in common
    with pytest.raises(ValueError, match="x and y share memory"):
        require_disjoint(x=a, y=a)
    with pytest.raises(ValueError, match="x and z share memory"):
        require_disjoint(x=a[2:6], y=np.zeros(2), z=a[5:9].reshape(2, 2))


@numba_only
def test_compiled_engine_refuses_an_array_passed_twice(monkeypatch):
    """The trace-block counter handed in as a view of the recorded indices: refused before the kernel."""
    m = net([params(True), params(False)], [1, 2])
    X, T, learn = random_schedule(2, 3, (9, 30, 3), seed=1)

    recording = network.Recording

    def aliased(idx, every, trace, ptr):
        return recording(idx, every, trace, idx[:len(ptr)])

    monkeypatch.setattr(network, "Recording", aliased)
    with pytest.raises(ValueError, match="Run.rec_idx and Run.ptr share memory"):
        m.run(X, T, learn=learn, n=10, record=[(0, "pyr_soma")])


def test_asking_for_numba_where_it_cannot_run_exits_2_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(engine_numba, "AVAILABLE", False)
    code = run_bars.main(["train", str(REPO / "fig3fig5_dendritic_microcircuits" / "experiment_configs"
                                       / "smoke_bars.yaml"), "training.engine=numba", "--out",
                          str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "engine 'numba'" in err[0] and "numpy" in err[0]
