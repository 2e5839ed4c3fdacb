"""A Config as a plain JSON document and back (the container's state file).

``config_to_dict(config)`` gives a document made of dict, list, str, int, bool
and None only, and ``config_from_dict(doc)`` reads it back equal::

    config_from_dict(json.loads(json.dumps(config_to_dict(c)))) == c

The format is structural, not OCI: one key per attrs field, in field order; a
nested attrs object is a JSON object, a tuple is a list, a frozenset a sorted
list, a mapping an object (keys sorted), an enum its value.  The top level has
``"version"`` (``VERSION``) besides the fields of Config.

The code knows no field by name: it walks ``attrs.fields()`` and the type
annotations of each class, so a field added to any class of the Config tree
is written and read without change here, and a field of a type it cannot
represent is a TypeError on writing (which the unit tests would show).

Reading is strict: an unknown version, an unknown or missing key, or a list
where an object belongs is a ConfigError naming the position in the document
(``"mounts.items[2].destination"``, ``"process.capabilities.bounding[2]"``).
Every value goes through the classes' own converters and validators, so a
value a Config refuses is refused here with the same message, under the
document's path.  Every key is required: a missing one is not filled in with
a default, since Config's defaults depend on other fields and on the euid of
the reading process.  The one exception is a document of an older version
(the state file of a container made before an upgrade): the fields added
since (``ADDED``, each with a constant default that keeps the old behaviour)
may be missing and take their default.
"""

from __future__ import annotations

import collections.abc
import contextvars
import enum
import functools
import json
import re
import sys
import threading
import types
import typing
import weakref
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple, Union, cast

import attrs

from .config import Config
from .errors import ConfigError, wrong_type

__all__ = ["VERSION", "config_from_dict", "config_json", "config_to_dict", "dump_value", "load_value"]

#: (class, field) pairs added in each version: a document of an older
#: version may lack them (they take their default, the old behaviour).
#: A field added to the Config tree is a new entry here (and so a new VERSION).
ADDED: Dict[int, FrozenSet[Tuple[str, str]]] = {
    2: frozenset({("Mount", "copy_up"), ("Config", "personality"), ("Config", "time_offsets")}),
    3: frozenset({("Process", "scheduler"), ("Process", "io_priority"), ("Process", "exec_cpu_affinity")})
    | frozenset({("Config", "memory_policy")}),
    4: frozenset({("Mount", "recursive_options"), ("Device", "uid"), ("Device", "gid"), ("Memory", "kernel_tcp")})
    | frozenset({("Cpu", "rt_period_us"), ("Cpu", "rt_runtime_us"), ("IO", "device_weights")})
    | frozenset({("CgroupConfig", "network")}),
    5: frozenset({("Config", "network")}),
    6: frozenset({("Process", "new_session"), ("Process", "passwd_home"), ("Process", "session_keyring")}),
    7: frozenset({("Process", "make_cwd"), ("Memory", "oom_kill_disable")}),
}

#: The version of the document format config_to_dict writes and config_from_dict reads.
VERSION = max(ADDED)

_omissible: contextvars.ContextVar[FrozenSet[Tuple[str, str]]] = contextvars.ContextVar(
    "_omissible", default=frozenset()
)

_NONE_TYPE = type(None)
_UNION_TYPES: Tuple[Any, ...] = (Union,) + ((types.UnionType,) if hasattr(types, "UnionType") else ())
_MAPPING_ORIGINS = (collections.abc.Mapping, dict)
_ATTRS_CONVERTER: Optional[type] = getattr(attrs, "Converter", None)


def config_to_dict(config: Config) -> Dict[str, Any]:
    """``config`` as a JSON-safe document; ``config_from_dict`` reads it back equal."""
    if not isinstance(config, Config):
        raise TypeError(f"expected a Config, got {type(config).__name__}")
    return {"version": VERSION, **_dump_attrs(config, "")}


#: config_json's last documents: id(config) -> (the config, its JSON).
_recent: Dict[int, Tuple[weakref.ReferenceType[Config], bytes]] = {}
_recent_lock = threading.Lock()
_RECENT = 8


def config_json(config: Config) -> bytes:
    """``config_to_dict(config)`` as compact JSON (keys sorted), remembered
    for the last few Config objects: a Config is immutable (frozen, its
    mappings read-only), so one made once and created many times is
    serialized once (~3 ms each otherwise)."""
    with _recent_lock:
        hit = _recent.get(id(config))
    if hit is not None and hit[0]() is config:
        return hit[1]
    data = json.dumps(config_to_dict(config), sort_keys=True, separators=(",", ":")).encode()
    with _recent_lock:
        _recent.pop(id(config), None)  # a dead config's entry, or another thread's
        while len(_recent) >= _RECENT:
            del _recent[next(iter(_recent))]
        _recent[id(config)] = (weakref.ref(config), data)
    return data


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """The Config of a ``config_to_dict`` document (e.g. parsed from JSON).

    Raises ConfigError naming the document path of the first problem.
    """
    if not isinstance(data, Mapping):
        raise ConfigError("config", wrong_type("an object", data))
    if "version" not in data:
        raise ConfigError("version", f"is required (this library writes version {VERSION})")
    version = data["version"]
    if type(version) is not int or not 1 <= version <= VERSION:
        raise ConfigError(
            "version", f"unsupported config document version {version!r} (this library reads 1 to {VERSION})"
        )
    body = {key: value for key, value in data.items() if key != "version"}
    newer = frozenset().union(*(fields for v, fields in ADDED.items() if v > version))
    token = _omissible.set(newer)
    try:
        config = _load_attrs(Config, body, "")
    finally:
        _omissible.reset(token)
    assert isinstance(config, Config)
    return config


def dump_value(obj: Any) -> Dict[str, Any]:
    """One attrs object of the Config tree (a Network...) as a document."""
    return _dump_attrs(obj, "")


def load_value(cls: type, raw: Any) -> Any:
    """The ``cls`` object of a ``dump_value`` document (ConfigError naming the position)."""
    return _load_attrs(cls, raw, "")


# -- types ----------------------------------------------------------------------


@functools.cache
def _fields(cls: type) -> Tuple[Tuple[attrs.Attribute[Any], Any], ...]:
    """The (attribute, resolved type) pairs of the fields ``cls.__init__`` takes."""
    hints = _type_hints(cls)
    out = []
    for attribute in attrs.fields(cast("type[attrs.AttrsInstance]", cls)):
        if not attribute.init:
            continue  # derived in __attrs_post_init__: recomputed on reading
        if attribute.name not in hints:
            raise TypeError(f"{cls.__name__}.{attribute.name} has no type annotation: cannot serialize it")
        out.append((attribute, hints[attribute.name]))
    return tuple(out)


def _type_hints(cls: type) -> Dict[str, Any]:
    """typing.get_type_hints(cls) for the classes of the Config tree (their
    annotations are strings naming module-level types), evaluating each
    distinct string once per module: get_type_hints compiles every one
    anew, ~8 ms for a Config in a fresh process (tests/unit/test_serialize.py
    checks that both give the same)."""
    hints: Dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        for name, value in vars(base).get("__annotations__", {}).items():
            hints[name] = _evaluate(value, base.__module__) if isinstance(value, str) else value
    return hints


@functools.cache
def _evaluate(annotation: str, module: str) -> Any:
    return eval(annotation, vars(sys.modules[module]))


def _is_attrs(tp: Any) -> bool:
    return isinstance(tp, type) and attrs.has(tp)


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _union_arms(tp: Any) -> Optional[Tuple[Any, ...]]:
    return typing.get_args(tp) if typing.get_origin(tp) in _UNION_TYPES else None


def _json_kind(tp: Any) -> str:
    """How a value of ``tp`` looks in the document, to pick the arm of a union."""
    if tp is bool:
        return "bool"
    if tp is int:
        return "int"
    if tp is str:
        return "str"
    if _is_enum(tp):
        kinds = {_json_kind(type(member.value)) for member in tp}
        return kinds.pop() if len(kinds) == 1 else f"enum {tp.__name__}"
    origin = typing.get_origin(tp)
    if origin in (tuple, frozenset):
        return "list"
    if _is_attrs(tp) or origin in _MAPPING_ORIGINS:
        return "object"
    raise TypeError(f"cannot serialize a value of type {tp!r}")


def _raw_kind(raw: Any) -> str:
    if isinstance(raw, bool):
        return "bool"
    if isinstance(raw, int):
        return "int"
    if isinstance(raw, str):
        return "str"
    if isinstance(raw, (list, tuple)):
        return "list"
    if isinstance(raw, Mapping):
        return "object"
    return type(raw).__name__


@functools.cache
def _value_arms(tp: Any) -> Tuple[Any, ...]:
    """The arms of a union besides None, each distinct in the document."""
    arms = tuple(a for a in typing.get_args(tp) if a is not _NONE_TYPE)
    kinds = [_json_kind(a) for a in arms]
    if len(set(kinds)) != len(kinds):
        raise TypeError(f"cannot serialize {tp!r}: its arms look alike in JSON ({', '.join(kinds)})")
    return arms


def _item_type(tp: Any) -> Any:
    args = typing.get_args(tp)
    if typing.get_origin(tp) is tuple and (len(args) != 2 or args[1] is not Ellipsis):
        raise TypeError(f"cannot serialize {tp!r}: only Tuple[X, ...] is supported")
    return args[0]


def _mapping_types(tp: Any) -> Tuple[Any, Any]:
    key, value = typing.get_args(tp)
    if key is not str:
        raise TypeError(f"cannot serialize {tp!r}: mapping keys must be str")
    return key, value


def _check_type(tp: Any) -> None:
    """Raise TypeError unless values of ``tp`` can be written and read back
    (attrs classes are not entered: check each one's fields on its own)."""
    arms = _union_arms(tp)
    if arms is not None:
        for arm in _value_arms(tp):
            _check_type(arm)
        return
    _json_kind(tp)
    origin = typing.get_origin(tp)
    if origin in (tuple, frozenset):
        _check_type(_item_type(tp))
    elif origin in _MAPPING_ORIGINS:
        _check_type(_mapping_types(tp)[1])
    elif _is_enum(tp):
        for member in tp:
            _check_type(type(member.value))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- writing ----------------------------------------------------------------------


def _dump_attrs(obj: Any, path: str) -> Dict[str, Any]:
    cls: Any = type(obj)
    doc: Dict[str, Any] = _dumper(cls)(obj, path)
    return doc


def _dump(tp: Any, value: Any, path: str) -> Any:
    """``value`` (declared as ``tp``) as plain JSON data; TypeError if it cannot be."""
    return _dumper(tp)(value, path)


#: A writer of values of one type: (value, document path) -> JSON data.
_Dumper = Callable[[Any, str], Any]


@functools.cache
def _dumper(tp: Any) -> _Dumper:
    """The writer of values declared as ``tp``, built once per type (a
    Config has ~1000 values: deciding the type's shape for each one costs
    ~10 ms in a fresh process)."""
    arms = _union_arms(tp)
    if arms is not None:
        return _union_dumper(tp, arms)
    try:
        check = _shallow_check(tp)
    except TypeError as err:
        message = str(err)

        def refuse(value: Any, path: str) -> Any:
            raise TypeError(message)

        return refuse
    convert = _converter(tp)

    def dump(value: Any, path: str) -> Any:
        if not check(value):
            raise TypeError(f"{path}: expected {_describe(tp)}, got {type(value).__name__} {value!r}")
        return convert(value, path)

    return dump


def _union_dumper(tp: Any, arms: Tuple[Any, ...]) -> _Dumper:
    nullable = _NONE_TYPE in arms

    def dump(value: Any, path: str) -> Any:
        if value is None and nullable:
            return None
        for arm in _value_arms(tp):
            if _conforms(arm, value):
                return _dumper(arm)(value, path)
        raise TypeError(f"{path}: {value!r} is none of {tp!r}")

    return dump


def _shallow_check(tp: Any) -> Callable[[Any], bool]:
    """_conforms(tp, value, shallow=True), decided for ``tp`` once."""
    if tp is _NONE_TYPE:
        return lambda value: value is None
    if tp is bool:
        return lambda value: isinstance(value, bool)
    if tp is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    if tp is str:
        return lambda value: isinstance(value, str)
    if _is_attrs(tp) or _is_enum(tp):
        return lambda value: isinstance(value, tp)
    origin = typing.get_origin(tp)
    if origin in (tuple, frozenset):
        return lambda value: isinstance(value, origin)
    if origin in _MAPPING_ORIGINS:
        return lambda value: isinstance(value, Mapping)
    raise TypeError(f"cannot serialize a value of type {tp!r}")


def _converter(tp: Any) -> _Dumper:
    """The conversion of a value already known to be a ``tp``."""
    if _is_attrs(tp):
        fields = [(a.name, _dumper(ftp)) for a, ftp in _fields(tp)]
        return lambda obj, path: {name: dump(getattr(obj, name), _join(path, name)) for name, dump in fields}
    if _is_enum(tp):
        return lambda value, path: _dump(type(value.value), value.value, path)
    if tp is bool:
        return lambda value, path: bool(value)
    if tp is int:
        return lambda value, path: int(value)
    if tp is str:
        return lambda value, path: str.__str__(value)  # a plain str, also for a str subclass such as a str enum
    origin = typing.get_origin(tp)
    if origin is tuple:
        item = _dumper(_item_type(tp))
        return lambda value, path: [item(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is frozenset:
        item_type = _item_type(tp)
        item = _dumper(item_type)
        natural = item_type in (str, int) or _is_enum(item_type)

        def dump_set(value: Any, path: str) -> Any:
            items = [item(v, f"{path}[]") for v in value]
            return sorted(items) if natural else sorted(items, key=_sort_key)

        return dump_set
    if origin in _MAPPING_ORIGINS:
        _, val_type = _mapping_types(tp)
        dump_value = _dumper(val_type)
        return lambda value, path: {str.__str__(k): dump_value(value[k], f"{path}[{k!r}]") for k in sorted(value)}
    raise TypeError(f"cannot serialize a value of type {tp!r}")


def _sort_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


def _conforms(tp: Any, value: Any, *, shallow: bool = False) -> bool:
    """Whether ``value`` is of type ``tp`` (attrs objects and, if ``shallow``,
    container items are only checked by type, not field by field)."""
    arms = _union_arms(tp)
    if arms is not None:
        return any(_conforms(arm, value, shallow=shallow) for arm in arms)
    if tp is _NONE_TYPE:
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if _is_attrs(tp) or _is_enum(tp):
        return isinstance(value, tp)
    origin = typing.get_origin(tp)
    if origin in (tuple, frozenset):
        if not isinstance(value, origin):
            return False
        item = _item_type(tp)
        return shallow or all(_conforms(item, v) for v in value)
    if origin in _MAPPING_ORIGINS:
        if not isinstance(value, Mapping):
            return False
        _, val_type = _mapping_types(tp)
        return shallow or all(isinstance(k, str) and _conforms(val_type, v) for k, v in value.items())
    raise TypeError(f"cannot serialize a value of type {tp!r}")


def _describe(tp: Any) -> str:
    name = getattr(tp, "__name__", None)
    return name if isinstance(name, str) and typing.get_origin(tp) is None else str(tp).replace("typing.", "")


# -- reading ----------------------------------------------------------------------


def _load_attrs(cls: type, raw: Any, path: str) -> Any:
    """An instance of ``cls`` from its object in the document at ``path``."""
    if not isinstance(raw, Mapping):
        raise ConfigError(path or "config", f"expected an object, got {_raw_kind(raw)} {raw!r}")
    fields = _fields(cls)
    names = [a.name for a, _ in fields]
    for key in raw:
        if key not in names:
            raise ConfigError(_join(path, str(key)), f"unknown key (known: {', '.join(names)})")
    kwargs: Dict[str, Any] = {}
    for attribute, tp in fields:
        field_path = _join(path, attribute.name)
        if attribute.name not in raw:
            if (cls.__name__, attribute.name) in _omissible.get():
                continue  # newer than the document: the default, as its version behaved
            raise ConfigError(field_path, "is required")
        value = _load(tp, raw[attribute.name], field_path)
        converter = _plain_converter(attribute)
        if converter is not None:
            # Converted here first, so that an error names this field and
            # item; the constructor converts the result again (a no-op).
            try:
                value = converter(value)
            except ConfigError as err:
                raise _field_error(err, field_path, attribute.name, tp, raw[attribute.name], converter) from err
            except (TypeError, ValueError, AssertionError) as err:
                # A converter that trips over a value instead of refusing it.
                raise _unexpected(err, field_path, raw[attribute.name]) from err
        kwargs[getattr(attribute, "alias", None) or attribute.name.lstrip("_")] = value
    try:
        obj = cls(**kwargs)
    except ConfigError as err:
        raise _object_error(err, path, names) from err
    except (TypeError, ValueError, AssertionError) as err:
        raise _unexpected(err, path or "config", raw) from err
    for attribute, tp in fields:
        value = getattr(obj, attribute.name)
        if not _conforms(tp, value):
            raise ConfigError(_join(path, attribute.name), wrong_type(f"{_describe(tp)}", value))
    return obj


def _plain_converter(attribute: attrs.Attribute[Any]) -> Optional[Callable[[Any], Any]]:
    converter = attribute.converter
    if converter is None or (_ATTRS_CONVERTER is not None and isinstance(converter, _ATTRS_CONVERTER)):
        return None  # an attrs.Converter taking the instance runs in the constructor only
    return cast("Callable[[Any], Any]", converter)


def _load(tp: Any, raw: Any, path: str) -> Any:
    """The value of type ``tp`` for ``raw``, before the field's converter.

    Objects, lists and mappings must have the document's shape; leaves (str,
    int, bool) are passed on as they are, for the converters to judge.
    """
    arms = _union_arms(tp)
    if arms is not None:
        if raw is None and _NONE_TYPE in arms:
            return None
        kind = _raw_kind(raw)
        for arm in _value_arms(tp):
            if _json_kind(arm) == kind:
                return _load(arm, raw, path)
        return raw  # for the converter to refuse, as Config() would
    if _is_attrs(tp):
        return _load_attrs(tp, raw, path)
    if _is_enum(tp):
        try:
            return tp(raw)
        except (ValueError, TypeError):
            return raw  # an alias the converter knows, or an error it reports
    origin = typing.get_origin(tp)
    if origin in (tuple, frozenset):
        if not isinstance(raw, (list, tuple)):
            raise ConfigError(path, f"expected a list, got {_raw_kind(raw)} {raw!r}")
        item = _item_type(tp)
        items = tuple(_load(item, v, f"{path}[{i}]") for i, v in enumerate(raw))
        if origin is frozenset:
            try:
                return frozenset(items)
            except TypeError:
                return items  # an unhashable item: the converter refuses it
        return items
    if origin in _MAPPING_ORIGINS:
        if not isinstance(raw, Mapping):
            raise ConfigError(path, f"expected an object, got {_raw_kind(raw)} {raw!r}")
        _, val_type = _mapping_types(tp)
        return {k: _load(val_type, v, f"{path}[{k!r}]") for k, v in raw.items()}
    if tp in (str, int, bool):
        return raw
    raise TypeError(f"{path}: cannot read a value of type {tp!r}")


# -- error paths --------------------------------------------------------------------
#
# The classes name their errors by class and field ("mount.destination",
# "capabilities.bounding", "process.args[1]", "io.read_bps key"); these put
# the document's path in front instead ("mounts.items[2].destination").

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _components(field: str) -> List[Tuple[int, str]]:
    """(offset, component) of the dotted parts of ``field``, dots in brackets kept."""
    out = []
    depth = 0
    start = 0
    for i, c in enumerate(field):
        if c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        elif c == "." and depth == 0:
            out.append((start, field[start:i]))
            start = i + 1
    out.append((start, field[start:]))
    return out


def _relocate(field: str, names: Sequence[str]) -> Optional[str]:
    """The part of ``field`` from its first component that is one of ``names``."""
    for offset, component in _components(field):
        m = _NAME.match(component)
        if m is not None and m.group() in names:
            return field[offset:]
    return None


def _field_error(
    err: ConfigError, field_path: str, name: str, tp: Any, raw: Any, converter: Callable[[Any], Any]
) -> ConfigError:
    """A converter's error for field ``name``, at ``field_path`` in the document."""
    tail = _relocate(err.field, [name])
    if tail is not None:
        where = field_path + tail[len(name) :]
    else:
        # The class spells the field differently (Hugetlb.limits is "hugetlb"):
        # keep what follows the name ("[...]", " key").
        last = _components(err.field)[-1][1]
        m = _NAME.match(last)
        where = field_path + (last[m.end() :] if m else "")
    if where == field_path and isinstance(raw, list) and not _is_attrs(_item_type_or_none(tp)):
        index = _bad_item(converter, raw, err.message)
        if index is not None:
            where = f"{field_path}[{index}]"
    return ConfigError(where, err.message)


def _item_type_or_none(tp: Any) -> Any:
    arms = _union_arms(tp)
    if arms is not None:
        lists = [a for a in arms if typing.get_origin(a) in (tuple, frozenset)]
        tp = lists[0] if len(lists) == 1 else None
    return _item_type(tp) if typing.get_origin(tp) in (tuple, frozenset) else None


def _bad_item(converter: Callable[[Any], Any], items: List[Any], message: str) -> Optional[int]:
    """The index of the first item the converter refuses alone with ``message``
    (a converter of a set names the field, not the item)."""
    for i, item in enumerate(items):
        try:
            converter([item])
        except ConfigError as err:
            if err.message == message:
                return i
        except Exception:  # only looking for the item
            pass
    return None


def _object_error(err: ConfigError, path: str, names: Sequence[str]) -> ConfigError:
    """A validator's or __attrs_post_init__'s error of the object at ``path``."""
    tail = _relocate(err.field, names)
    if tail is not None:
        return ConfigError(_join(path, tail), err.message)
    if not path:
        return err
    return ConfigError(path, f"{err.field}: {err.message}")


def _unexpected(err: Exception, path: str, raw: Any) -> ConfigError:
    detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return ConfigError(path, f"invalid value {raw!r} ({detail})")
