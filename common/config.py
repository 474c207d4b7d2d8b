"""YAML -> frozen dataclass with typed `key=value` overrides and one-line errors."""
import copy
import dataclasses
import math
import re
import types
import typing
from pathlib import Path

import yaml

from common.errors import UsageError


_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NON_FINITE = re.compile(r"[-+]?(inf|infinity|nan)", re.IGNORECASE)


class ConfigError(UsageError):
    pass


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


def _coerce(value, tp, key, allow_inf=False):
    """Check `value` against the annotation `tp`; return it (ints become floats for float fields).
    Float fields must be finite unless the field's metadata says {"allow_inf": True}."""
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
                return _coerce(value, option, key, allow_inf)
            except ConfigError as err:
                if not str(err).startswith(f"config key '{key}': expected"):
                    telling.append(err)
        raise telling[0] if telling else bad
    if origin is list:
        if not isinstance(value, list):
            raise bad
        (inner,) = typing.get_args(tp)
        return [_coerce(v, inner, f"{key}[{i}]", allow_inf) for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad
        return tuple(_coerce(v, typing.get_args(tp)[0], f"{key}[{i}]", allow_inf)
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
        value = float(value)
        if math.isnan(value) or (math.isinf(value) and not allow_inf):
            raise ConfigError(f"config key '{key}': must be a finite number, got {value}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
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
            values[name] = _coerce(data[name], hints[name], prefix + name,
                                   f.metadata.get("allow_inf", False))
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


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConfigError(f"key '{key}' appears twice in one mapping "
                                  f"(line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep)


def _load_yaml(text):
    return yaml.load(text, Loader=_StrictLoader)


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


def load_config(cls, path, overrides=()):
    """Load YAML `path` into the frozen dataclass `cls`, applying `key=value` overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {err.start}: "
                          f"{err.object[err.start:err.start + 1]!r}); save it as UTF-8")
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {str(err).splitlines()[0]}")
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}")
    return load_config_dict(cls, data if data is not None else {}, overrides)


def config_to_dict(cfg):
    return dataclasses.asdict(cfg)


def dump_config(cfg, path):
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
