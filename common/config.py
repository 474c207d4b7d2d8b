"""YAML -> frozen dataclass with typed `key=value` overrides and one-line errors.

Range of numbers. Every int and float a config holds (also inside lists and optional fields) must lie
in the range its field declares, or else in the default range: ints in [-2^31, 2^31 - 1], floats
within +-1e18 (so that the product of two config values is still finite in float32). A field declares
its range with `bounded` (or its metadata); a seed field with `seed_field`:

    from common.config import bounded, seed_field

    @dataclass(frozen=True)
    class Config:
        dt: float = bounded(gt=0, le=1e3)                 # required key, 0 < dt <= 1000
        hidden_sizes: list[int] = bounded(ge=1, le=100_000)   # each item
        tau_s: float = bounded(ge=0, le=1e6, default=0.0)
        horizon: float = bounded(gt=0, allow_inf=True, default=float("inf"))   # inf: no limit
        seed: int = seed_field()                          # 0 <= seed <= 2^32 - 1 (numpy's limit)

A value outside stops with one line: `config key 'dt': 1e+308 is out of range (must be <= 1000)`.
Relations between keys (`len(lr_factors)` = layers) stay in the config's `check()` with `require`.

Files. A config file must be UTF-8, at most MAX_BYTES long, nested at most MAX_DEPTH levels, with
string keys, each key once per mapping, and no YAML anchors or aliases (`&a`, `*a`: a few lines of
aliases can expand to billions of nodes); each fault stops with one line naming the file.
"""
import copy
import dataclasses
import math
import re
import types
import typing
from pathlib import Path

import yaml

from common.errors import UsageError


MAX_BYTES = 16 * 1024           # 10x the largest paper config; parsing 16 KiB takes < 0.3 s
MAX_DEPTH = 32                  # nesting of mappings and lists
INT_RANGE = (-2**31, 2**31 - 1)
FLOAT_LIMIT = 1e18
SEED_MAX = 2**32 - 1            # numpy.random.RandomState accepts 0 .. 2^32 - 1
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NON_FINITE = re.compile(r"[-+]?(inf|infinity|nan)", re.IGNORECASE)


class ConfigError(UsageError):
    pass


def bounded(ge=None, gt=None, le=None, lt=None, allow_inf=False, default=dataclasses.MISSING):
    """A dataclass field whose number (or each number of its list) must satisfy the given bounds;
    without `default` the key is required. `allow_inf`: inf is a value too ("no limit"), still
    subject to the bounds given."""
    limits = {k: v for k, v in dict(ge=ge, gt=gt, le=le, lt=lt).items() if v is not None}
    return dataclasses.field(default=default, metadata={"bounds": limits, "allow_inf": allow_inf})


def seed_field(default=dataclasses.MISSING):
    """A seed: an int in [0, SEED_MAX]."""
    return bounded(ge=0, le=SEED_MAX, default=default)


_RELATIONS = {"ge": (lambda v, b: v >= b, ">="), "gt": (lambda v, b: v > b, ">"),
              "le": (lambda v, b: v <= b, "<="), "lt": (lambda v, b: v < b, "<")}


def _check_range(value, key, meta, is_int):
    """The declared bounds of the field (meta["bounds"]), else the default range of ints/floats."""
    limits = meta.get("bounds")
    if limits is None:
        if math.isinf(value):                   # allowed by the field (checked by the caller)
            return
        limits = dict(zip(("ge", "le"), INT_RANGE)) if is_int else {"ge": -FLOAT_LIMIT, "le": FLOAT_LIMIT}
    for name, bound in limits.items():
        holds, _ = _RELATIONS[name]
        if not holds(value, bound):
            what = " and ".join(f"{_RELATIONS[n][1]} {_show(b)}" for n, b in limits.items())
            raise ConfigError(f"config key '{key}': {_show(value)} is out of range (must be {what})")


def _show(number):
    if isinstance(number, int):
        return str(number) if number.bit_length() <= 64 else f"a {number.bit_length()}-bit integer"
    return f"{number:g}"


def require(condition, key, message):
    """Raise a ConfigError naming `key` unless `condition` holds (used in a config's check())."""
    if not condition:
        raise ConfigError(f"config key '{key}': {message}")


def _type_name(tp):
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (inner,) = typing.get_args(tp)
        return f"list of {_type_name(inner)}"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _coerce(value, tp, key, meta):
    """Check `value` against the annotation `tp` and the range in the field's metadata `meta`; return
    it (ints become floats for float fields). Floats must be finite unless meta["allow_inf"]."""
    origin = typing.get_origin(tp)
    bad = ConfigError(f"config key '{key}': expected {_type_name(tp)}, got {value!r}")
    if tp is typing.Any:
        return value
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value not in allowed or type(value) is not type(allowed[allowed.index(value)]):
            raise ConfigError(f"config key '{key}': {value!r} is not allowed "
                              f"(allowed: {', '.join(repr(a) for a in allowed)})")
        return value
    if origin in (typing.Union, types.UnionType):
        telling = []                # an option that got past the type check says more
        for option in typing.get_args(tp):
            try:
                return _coerce(value, option, key, meta)
            except ConfigError as err:
                if not str(err).startswith(f"config key '{key}': expected"):
                    telling.append(err)
        raise telling[0] if telling else bad
    if origin is list:
        if not isinstance(value, list):
            raise bad
        (inner,) = typing.get_args(tp)
        return [_coerce(v, inner, f"{key}[{i}]", meta) for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad
        return tuple(_coerce(v, typing.get_args(tp)[0], f"{key}[{i}]", meta)
                     for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return _build(tp, value, prefix=f"{key}.")
    if tp is type(None):
        if value is not None:
            raise bad
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is float:
        if isinstance(value, str) and _NON_FINITE.fullmatch(value.strip()):
            value = float(value)                    # 'inf', 'nan': meant as numbers, checked below
        elif isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            value = float(value)                    # YAML 1.1 reads 1e-3 (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        try:
            value = float(value)
        except OverflowError:
            value = math.inf if value > 0 else -math.inf   # an int beyond float range
        if math.isnan(value) or (math.isinf(value) and not meta.get("allow_inf")):
            raise ConfigError(f"config key '{key}': must be a finite number, got {value}")
        _check_range(value, key, meta, is_int=False)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        _check_range(value, key, meta, is_int=True)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise bad
        return value
    if tp is dict:
        if not isinstance(value, dict):
            raise bad
        return value
    raise TypeError(f"unsupported config annotation {tp!r} for '{key}'")


def _build(cls, data, prefix=""):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config key '{prefix}{unknown[0]}' "
                          f"(allowed: {', '.join(prefix + k for k in fields)})")
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _coerce(data[name], hints[name], prefix + name, f.metadata)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing config key '{prefix}{name}' ({_type_name(hints[name])})")
    obj = cls(**values)
    check = getattr(obj, "check", None)
    if callable(check):
        check()
    return obj


def _section_class(hint):
    """The dataclass of a nested section, also when it is optional (`Eta | None`), else None."""
    if dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        sections = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
        if len(sections) == 1:
            return sections[0]
    return None


def _set_dotted(data, dotted, value, cls):
    parts = dotted.split(".")
    node, node_cls = data, cls
    for i, part in enumerate(parts):
        names = [f.name for f in dataclasses.fields(node_cls)] if node_cls else []
        if node_cls is not None and part not in names:
            where = ".".join(parts[:i])
            allowed = ", ".join((where + "." if where else "") + n for n in names)
            raise ConfigError(f"unknown config key '{dotted}' (allowed: {allowed})")
        if i == len(parts) - 1:
            node[part] = value
            return
        node_cls = _section_class(typing.get_type_hints(node_cls)[part])
        if node_cls is None:
            raise ConfigError(f"config key '{'.'.join(parts[:i + 1])}' has no sub-keys")
        if node.get(part) is None:                  # an absent or null optional section
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            raise ConfigError(f"config key '{'.'.join(parts[:i + 1])}' is not a mapping")


_FAST_PARSER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


def _prescan(text):
    """Refuse anchors and aliases (a few lines of aliases expand to billions of nodes) and nesting
    deeper than MAX_DEPTH (the composer recurses once per level), from the event stream of the C
    parser, before anything is built."""
    depth = 0
    for event in yaml.parse(text, Loader=_FAST_PARSER):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ConfigError(f"uses a YAML anchor or alias (line {event.start_mark.line + 1}); "
                              "write the values out")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"is nested more than {MAX_DEPTH} levels deep "
                                  f"(line {event.start_mark.line + 1})")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML would keep the last silently)
    and keys that are not strings."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise ConfigError(f"the key {key_node.value if isinstance(key_node, yaml.ScalarNode) else '?'!r} "
                                  f"is not a string (line {line}); keys are names like `dt`")
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConfigError(f"key '{key}' appears twice in one mapping (line {line})")
            seen.add(key)
        return super().construct_mapping(node, deep)


def _load_yaml(text, max_bytes=MAX_BYTES):
    """Parse YAML text with _StrictLoader; ConfigError or yaml.YAMLError on bad input."""
    if len(text) > max_bytes:
        raise ConfigError(f"is longer than {max_bytes} characters")
    try:
        _prescan(text)
        return yaml.load(text, Loader=_StrictLoader)
    except (ValueError, RecursionError, MemoryError) as err:   # e.g. an int of 5000 digits
        raise ConfigError(f"cannot be read ({type(err).__name__}: {str(err).splitlines()[0][:80]})")


def parse_override(text):
    """'key=value' -> (key, YAML-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not of the form key=value")
    key, raw = text.split("=", 1)
    try:
        value = _load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    except ConfigError as err:
        raise ConfigError(f"override '{text}': {err}")
    return key.strip(), value


def load_config_dict(cls, data, overrides=()):
    """Build `cls` from a mapping plus `key=value` overrides."""
    if not isinstance(data, dict):
        raise ConfigError("config must be a YAML mapping of key: value")
    data = copy.deepcopy(data)
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(data, key, value, cls)
    return _build(cls, data)


def read_yaml(path, max_bytes=MAX_BYTES):
    """The YAML file `path` parsed by the strict loader; ConfigError (one line naming the file) when
    it is missing, too large, not UTF-8, not YAML, or refused by the loader."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read ({err.strerror or err})")
    if len(raw) > max_bytes:
        raise ConfigError(f"config file {path} is larger than {max_bytes // 1024} KiB; a config is a "
                          "short list of key: value lines")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {err.start}: "
                          f"{err.object[err.start:err.start + 1]!r}); save it as UTF-8")
    try:
        return _load_yaml(text, max_bytes)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {str(err).splitlines()[0]}")
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}")


def load_config(cls, path, overrides=()):
    """Load YAML `path` into the frozen dataclass `cls`, applying `key=value` overrides."""
    data = read_yaml(path)
    return load_config_dict(cls, data if data is not None else {}, overrides)


def config_to_dict(cfg):
    return dataclasses.asdict(cfg)

