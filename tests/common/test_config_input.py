"""Config files and overrides that would be misread are refused with one line naming file and key:
non-UTF-8 files, keys given twice, non-finite numbers, empty seed ranges; optional nested sections
can be overridden key by key."""
import dataclasses
from dataclasses import dataclass

import pytest

from common.cli import parse_seeds
from common.config import ConfigError, bounded, load_config, load_config_dict, seed_field
from common.errors import UsageError
from tests.common.test_config import BASE, Cfg, Eta
from tests.common import toy_entry
from tests.common.runs import CONFIG, run


def refused(tmp_path, capsys, *overrides, config_bytes=None):
    """The one stderr line of a toy run that must stop before creating its run folder."""
    if config_bytes is None:
        code, err = run(tmp_path, capsys, *overrides)
    else:
        (tmp_path / "toy.yaml").write_bytes(config_bytes)
        code = toy_entry.main([str(tmp_path / "toy.yaml"), "--out", str(tmp_path / "run"), *overrides])
        err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert not (tmp_path / "run").exists()
    return err[0]


def test_non_utf8_file(tmp_path, capsys):
    line = refused(tmp_path, capsys, config_bytes=(CONFIG + "# r\xe9glage\n").encode("latin-1"))
    assert str(tmp_path / "toy.yaml") in line and "not UTF-8" in line


@pytest.mark.parametrize("text, key", [
    ("lr: 0.05\nlr: 0.5\n", "'lr'"),
    ("eta:\n  up: [1.0]\n  ip: [0.2]\neta:\n  up: [2.0]\n", "'eta'"),     # a repeated section
    ("eta:\n  up: [1.0]\n  up: [2.0]\n  ip: [0.2]\n", "'up'"),
])
def test_key_given_twice(tmp_path, text, key):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(Cfg, path)
    assert str(path) in str(info.value) and key in str(info.value) and "twice" in str(info.value)


def test_key_given_twice_through_the_entry(tmp_path, capsys):
    line = refused(tmp_path, capsys, config_bytes=(CONFIG + "noise: 0.2\n").encode())
    assert str(tmp_path / "toy.yaml") in line and "'noise'" in line and "line 7" in line


@dataclass(frozen=True)
class WithOptional:
    dt: float
    selfpred: Eta | None = None
    horizon: float = dataclasses.field(default=1.0, metadata={"allow_inf": True})


def test_optional_section_key_by_key():
    cfg = load_config_dict(WithOptional, {"dt": 0.1}, ["selfpred.up=[1.0]", "selfpred.ip=[0.5]"])
    assert cfg.selfpred == Eta(up=[1.0], ip=[0.5])
    base = {"dt": 0.1, "selfpred": {"up": [1.0], "ip": [0.5]}}
    assert load_config_dict(WithOptional, base, ["selfpred.ip=[0.25]"]).selfpred == Eta([1.0], [0.25])
    with pytest.raises(ConfigError, match="missing config key 'selfpred.ip'"):
        load_config_dict(WithOptional, {"dt": 0.1, "selfpred": None}, ["selfpred.up=[1.0]"])
    with pytest.raises(ConfigError, match="'selfpred.down'"):
        load_config_dict(WithOptional, base, ["selfpred.down=[1.0]"])


@pytest.mark.parametrize("value", ["inf", ".inf", "-.inf", "nan", ".nan", "1e400"])
def test_non_finite_float_override(tmp_path, capsys, value):
    line = refused(tmp_path, capsys, f"noise={value}")
    assert "'noise'" in line and "finite" in line


def test_non_finite_in_file_nested_and_allowed():
    with pytest.raises(ConfigError, match=r"'eta.up\[1\]': must be a finite number"):
        load_config_dict(Cfg, dict(BASE, eta={"up": [1.0, float("inf")], "ip": [0.2]}))
    assert load_config_dict(WithOptional, {"dt": 0.1}, ["horizon=.inf"]).horizon == float("inf")
    with pytest.raises(ConfigError, match="'horizon'"):
        load_config_dict(WithOptional, {"dt": 0.1}, ["horizon=nan"])


def test_seed_ranges():
    assert parse_seeds("1-3,7") == [1, 2, 3, 7]
    with pytest.raises(UsageError, match="'5-1' is empty"):
        parse_seeds("5-1")
    with pytest.raises(UsageError, match="twice"):
        parse_seeds("1-3,2")


@dataclass(frozen=True)
class Bounded:
    dt: float = bounded(gt=0, le=1e3)
    sizes: list[int] = bounded(ge=1, le=100_000)
    seed: int = seed_field()
    tau: float | None = bounded(gt=0, le=1e6, default=None)
    horizon: float = bounded(gt=0, allow_inf=True, default=1.0)
    free_int: int = 0
    free_float: float = 0.0


@pytest.mark.parametrize("override, key, words", [
    ("dt=0", "dt", "> 0"), ("dt=1e308", "dt", "<= 1000"), ("sizes=[10, 1000000000]", "sizes[1]", "<= 100000"),
    ("seed=-1", "seed", ">= 0"), ("seed=4294967296", "seed", "<= 4294967295"), ("tau=1e7", "tau", "<= 1e+06"),
    ("horizon=-.inf", "horizon", "> 0"), ("free_int=2147483648", "free_int", "<= 2147483647"),
    ("free_float=1e19", "free_float", "<= 1e+18"), ("free_int=" + "9" * 40, "free_int", "-bit integer"),
    ("free_float=" + "9" * 400, "free_float", "finite"), ("free_float=-" + "9" * 400, "free_float", "finite"),
])
def test_values_outside_their_range(override, key, words):
    """Declared ranges (also per list item and on optional fields) and the default ranges of ints
    (int32) and floats (+-1e18) stop with one line naming the key and the range."""
    base = {"dt": 0.1, "sizes": [3], "seed": 0}
    with pytest.raises(ConfigError) as info:
        load_config_dict(Bounded, base, [override])
    assert f"config key '{key}'" in str(info.value) and words in str(info.value), info.value


def test_values_at_the_edges_of_their_range():
    cfg = load_config_dict(Bounded, {"dt": 1e3, "sizes": [1, 100_000], "seed": 2**32 - 1, "tau": None,
                                     "horizon": float("inf"), "free_int": -2**31, "free_float": -1e18})
    assert cfg.seed == 2**32 - 1 and cfg.horizon == float("inf") and cfg.tau is None
