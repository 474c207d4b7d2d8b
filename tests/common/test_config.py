"""Config loading: typed overrides and a one-line error for each kind of user mistake."""
from dataclasses import dataclass, FrozenInstanceError
from typing import Literal

import pytest

from common.config import ConfigError, load_config, load_config_dict, require


@dataclass(frozen=True)
class Eta:
    up: list[float]
    ip: list[float]


@dataclass(frozen=True)
class Cfg:
    dt: float
    n_updates: int
    variant: Literal["vanilla", "full_forward_pass"]
    shuffle: bool
    eta: Eta
    reseed_after_init: int | None
    name: str = "x"

    def check(self):
        require(self.dt > 0, "dt", "must be > 0")


BASE = {"dt": 0.1, "n_updates": 10, "variant": "vanilla", "shuffle": False,
        "eta": {"up": [1.0, 0.5], "ip": [0.2]}, "reseed_after_init": 7}


def error_of(data, overrides=()):
    with pytest.raises(ConfigError) as info:
        load_config_dict(Cfg, data, overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_loads_and_is_frozen():
    cfg = load_config_dict(Cfg, BASE)
    assert cfg.eta.up == [1.0, 0.5] and cfg.name == "x"
    with pytest.raises(FrozenInstanceError):
        cfg.dt = 1.0


def test_overrides_are_typed_from_the_field():
    cfg = load_config_dict(Cfg, BASE, ["dt=2", "n_updates=5", "shuffle=true", "eta.up=[3, 4]",
                                       "reseed_after_init=null", "variant=full_forward_pass",
                                       "name=abc"])
    assert cfg.dt == 2.0 and isinstance(cfg.dt, float)
    assert cfg.n_updates == 5 and cfg.shuffle is True and cfg.eta.up == [3.0, 4.0]
    assert cfg.reseed_after_init is None and cfg.variant == "full_forward_pass"


def test_float_in_exponent_notation_without_dot():
    assert load_config_dict(Cfg, BASE, ["dt=1e-3"]).dt == 1e-3


def test_unknown_key_names_allowed_keys():
    msg = error_of(dict(BASE, lr=1))
    assert "'lr'" in msg and "n_updates" in msg and "variant" in msg
    msg = error_of(BASE, ["eta.down=[1]"])
    assert "'eta.down'" in msg and "eta.up" in msg


def test_missing_key():
    data = dict(BASE)
    del data["n_updates"]
    assert "missing config key 'n_updates'" in error_of(data)


def test_wrong_type():
    assert "'n_updates'" in error_of(BASE, ["n_updates=1.5"])
    assert "'shuffle'" in error_of(BASE, ["shuffle=1"])
    assert "'eta.up[1]'" in error_of(BASE, ["eta.up=[1, yes]"])


def test_literal_lists_allowed_values():
    msg = error_of(BASE, ["variant=instantaneous"])
    assert "'variant'" in msg and "'vanilla'" in msg and "'full_forward_pass'" in msg


def test_invalid_value_from_check():
    assert "config key 'dt': must be > 0" == error_of(BASE, ["dt=0"])


def test_bad_override_syntax_and_file(tmp_path):
    assert "key=value" in error_of(BASE, ["dt"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(Cfg, tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dt: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Cfg, bad)


def test_seed_shorthand_sets_the_named_key(tmp_path):
    from common.cli import entry_parser, parse_entry_args
    path = tmp_path / "c.yaml"
    path.write_text("dt: 0.1\nn_updates: 10\nvariant: vanilla\nshuffle: false\n"
                    "eta: {up: [1.0], ip: [0.2]}\nreseed_after_init: 7\n")
    parser = entry_parser(seed_key="reseed_after_init")
    cfg, args = parse_entry_args(Cfg, [str(path), "--seed", "3", "dt=0.5"], parser=parser)
    assert cfg.reseed_after_init == 3 and cfg.dt == 0.5
