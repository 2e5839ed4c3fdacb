"""Converters and validators shared by the config classes (attrs idioms).

A checker ``check(field, value, **options)`` returns ``value`` converted or
raises ConfigError naming ``field``, the field's public name
(``"mount.readonly"``).  No field spells that name: a field gives its
checker as its converter (a FieldCheck) and the checker's options in its
metadata, and its class gives the prefix once::

    @attrs.frozen(field_transformer=named_fields("device"))
    class Device:
        mode: int = attrs.field(default=0o666, converter=uint32_field, metadata=field_options(maximum=0o7777))

When the class is made, ``named_fields`` replaces each FieldCheck with a
function ``f(value)`` calling ``uint32("device.mode", value, maximum=0o7777)``,
and checks the field's plain default (not a factory) then, once: given the
default itself, ``f`` returns that result without a call, as it returns None
as it is for a FieldCheck that ``keeps_none`` (checkers are pure functions
of the value).

The converters are declared twice, under ``if TYPE_CHECKING``.  mypy's attrs
plugin reads a field's ``__init__`` parameter type from its converter only
when the converter is a plain function or a class, never a call
(``functools.partial(...)``, ``attrs.Converter(...)``) nor an object; without
it every config class's ``__init__`` would lose its parameter types
(``Memory(max="64M")`` would not type-check).  So mypy sees
``def uint32_field(value: Any) -> int``, and the program a FieldCheck.  A
FieldCheck left unbound (its class without ``named_fields``) raises
TypeError when called.
"""

from __future__ import annotations

import inspect
import os
import posixpath
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, NoReturn, Optional, Tuple, Type, TypeVar

import attrs

from . import _attrs_code
from .errors import ConfigError, wrong_type

_attrs_code.install()  # before any class of the model is made

T = TypeVar("T")


def fail(field: str, message: str) -> ConfigError:
    return ConfigError(field, message)


def text(field: str, value: Any, *, allow_empty: bool = False) -> str:
    """A str without NUL bytes (os.PathLike accepted)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        raise fail(field, f"expected str, got bytes {value!r}")
    if not isinstance(value, str):
        raise fail(field, wrong_type("str", value))
    if "\0" in value:
        raise fail(field, f"contains a NUL byte: {value!r}")
    if not value and not allow_empty:
        raise fail(field, "must not be empty")
    return value


def absolute_path(field: str, value: Any) -> str:
    """An absolute, normalised path with no '..' component."""
    path = text(field, value)
    if not path.startswith("/"):
        raise fail(field, f"must be an absolute path, got {path!r}")
    if ".." in path.split("/"):
        raise fail(field, f"must not contain '..', got {path!r}")
    return posixpath.normpath(path).replace("//", "/")


def uint32(field: str, value: Any, *, maximum: int = 2**32 - 2) -> int:
    """A non-negative integer id (uid, gid, count) that fits the kernel's types."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(field, wrong_type("int", value))
    if not 0 <= value <= maximum:
        raise fail(field, f"must be between 0 and {maximum}, got {value}")
    return value


def one_of(field: str, value: Any, *, choices: Iterable[str]) -> str:
    """One of the str ``choices`` (a FieldCheck's ``choices=`` option)."""
    if value not in choices:
        raise fail(field, f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(field, wrong_type("bool", value))
    return value


def str_tuple(field: str, values: Any, *, allow_empty_items: bool = False) -> Tuple[str, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise fail(field, wrong_type("a sequence of str", values))
    return tuple(text(f"{field}[{i}]", v, allow_empty=allow_empty_items) for i, v in enumerate(values))


K = TypeVar("K")
V = TypeVar("V")


def checked_mapping(
    field: str, value: Any, expected: str, key: Callable[[str, Any], K], item: Callable[[str, Any], V]
) -> Mapping[K, V]:
    """A read-only copy of the mapping ``value`` (``expected`` says what it
    maps, in the error for anything else): each key as ``key`` makes it
    (checked as "``field`` key"), each value as ``item`` does (as
    ``field[key]``)."""
    from types import MappingProxyType

    if not isinstance(value, Mapping):
        raise fail(field, wrong_type(expected, value))
    out = {}
    for k, v in value.items():
        checked = key(f"{field} key", k)
        out[checked] = item(f"{field}[{checked!r}]", v)
    return MappingProxyType(out)


def freeze_mapping(field: str, value: Any) -> Mapping[str, str]:
    """A read-only copy of a str -> str mapping (environment, annotations);
    a key with '=' is an error of the mapping itself."""
    from types import MappingProxyType

    if not isinstance(value, Mapping):
        raise fail(field, wrong_type("a mapping", value))
    out = {}
    for key, val in value.items():
        k = text(f"{field} key", key)
        if "=" in k:
            raise fail(field, f"key {k!r} must not contain '='")
        out[k] = text(f"{field}[{k!r}]", val, allow_empty=True)
    return MappingProxyType(out)


def instance_tuple(field: str, value: Any, cls: Type[T]) -> Tuple[T, ...]:
    """A tuple of ``cls`` instances from any iterable (not a str, nor one
    instance alone), each checked, the error naming ``field[i]``."""
    if isinstance(value, (str, bytes, cls)) or not isinstance(value, Iterable):
        raise fail(field, f"expected a sequence of {cls.__name__}, got {value!r}")
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, cls):
            raise fail(f"{field}[{i}]", wrong_type(f"{cls.__name__}", item))
    return items


def instance(field: str, value: Any, cls: Type[T], *, optional: bool = False) -> Optional[T]:
    """``value`` itself when it is a ``cls`` (or, ``optional``, None)."""
    if isinstance(value, cls) or (optional and value is None):
        return value
    expected = f"{cls.__name__} or None" if optional else cls.__name__
    raise fail(field, wrong_type(f"{expected}", value))


# -- checkers as field converters and validators (see the module's docstring) --

#: attrs' field_transformer: (class, its fields) -> the fields to use.
FieldTransformer = Callable[[type, List["attrs.Attribute[Any]"]], List["attrs.Attribute[Any]"]]

#: The metadata key of a field's checker options (field_options).
_OPTIONS = "libcontainer_py.options"
#: A value that is no field's (_converter: "no value is returned as it is").
_NO_VALUE = object()
#: The class of attrs.Factory(...) (its stubs call attrs.Factory a function).
_FACTORY: type = type(attrs.Factory(list))


class FieldCheck:
    """A checker as a field's converter, or with ``validates`` its validator,
    waiting for ``named_fields`` to give it the field's public name.

    ``options`` are keyword arguments of every call (a field's own, from its
    metadata, are added); with ``keeps_none`` a None value is the field's
    value as it is, the checker not called."""

    __slots__ = ("check", "keeps_none", "options", "validates")

    def __init__(
        self, check: Callable[..., Any], *, validates: bool = False, keeps_none: bool = False, **options: Any
    ) -> None:
        self.check = check
        self.validates = validates
        self.keeps_none = keeps_none
        self.options = options

    def __call__(self, *args: Any) -> NoReturn:
        raise TypeError(f"{self!r} has no field name: its class needs field_transformer=named_fields(...)")

    def __repr__(self) -> str:
        return f"FieldCheck({self.check.__name__})"

    def bind(self, field: str, options: Mapping[str, Any], default: Any = attrs.NOTHING) -> Callable[..., Any]:
        """The converter (or validator) of the field ``field``, whose metadata
        gives ``options`` and whose attrs default is ``default``."""
        given = {**self.options, **options}
        kept = None if self.keeps_none else _NO_VALUE
        if self.validates:
            return _validator(self.check, field, given, kept)
        plain = default is not attrs.NOTHING and not isinstance(default, _FACTORY) and default is not kept
        return _converter(self.check, field, given, kept, default if plain else _NO_VALUE)


def _validator(check: Callable[..., Any], field: str, options: Dict[str, Any], kept: Any) -> Callable[..., None]:
    """``check(field, value, **options)`` as an attrs validator; ``kept`` passes unchecked."""

    def validate(_instance: Any, _attribute: Any, value: Any) -> None:
        if value is not kept:
            check(field, value, **options)

    validate.__qualname__ = f"{check.__name__} validator of {field}"
    return validate


def _converter(
    check: Callable[..., Any], field: str, options: Dict[str, Any], kept: Any, known: Any
) -> Callable[[Any], Any]:
    """``check(field, value, **options)`` as an attrs converter: ``kept`` is
    returned as it is, and ``known`` (the field's plain default) is checked
    here, once, its result returned when the value is ``known`` itself."""
    checked = None if known is _NO_VALUE else check(field, known, **options)
    if options:

        def convert(value: Any) -> Any:
            if value is kept:
                return value
            if value is known:
                return checked
            return check(field, value, **options)

    else:

        def convert(value: Any) -> Any:
            if value is kept:
                return value
            if value is known:
                return checked
            return check(field, value)

    convert.__qualname__ = f"{check.__name__} converter of {field}"
    convert.__signature__ = _CONVERT_SIGNATURE  # type: ignore[attr-defined]
    return convert


def _convert_template(value: Any) -> Any:
    """What every converter of _converter looks like."""


#: Their signature, computed once: attrs asks for each converter's
#: (inspect.signature, ~15 us each, ~170 converters at start-up).
_CONVERT_SIGNATURE = inspect.signature(_convert_template)


def field_options(*, name: Optional[str] = None, **checker_options: Any) -> Dict[str, Any]:
    """A field's metadata: keyword arguments of its checker, and its public
    name where that is not ``prefix.field`` (Devices.rules is "devices")."""
    return {_OPTIONS: {**checker_options, **({} if name is None else {"name": name})}}


def named_fields(prefix: str = "") -> FieldTransformer:
    """The field_transformer that binds each FieldCheck of a class to its
    field's public name, ``prefix.field`` (``field`` with no prefix)."""

    def bind_all(cls: type, fields: List[attrs.Attribute[Any]]) -> List[attrs.Attribute[Any]]:
        return [_bind(prefix, f) for f in fields]

    return bind_all


def _bind(prefix: str, field: attrs.Attribute[Any]) -> attrs.Attribute[Any]:
    """``field`` with its FieldChecks bound.

    Set in place, as attrs itself sets the aliases of these Attributes,
    new for the class being made, around its call of the transformer:
    Attribute.evolve copies through pickle's reduce, which took about as
    long as all the rest of the binding."""
    given = dict(field.metadata.get(_OPTIONS, {}))
    name = given.pop("name", None) or (f"{prefix}.{field.name}" if prefix else field.name)
    checks = [key for key in ("converter", "validator") if isinstance(getattr(field, key), FieldCheck)]
    if given and not checks:
        raise TypeError(f"{name}: field_options given to a field without a FieldCheck")
    for key in checks:
        bound = getattr(field, key).bind(name, given, field.default)
        object.__setattr__(field, key, bound)
    return field


def instance_of(cls: type, *, optional: bool = False) -> FieldCheck:
    """A validator: the field's value is a ``cls`` (or, ``optional``, None)."""
    return FieldCheck(instance, validates=True, keeps_none=optional, cls=cls, optional=optional)


if TYPE_CHECKING:

    def text_field(value: Any) -> str: ...
    def optional_text_field(value: Any) -> Optional[str]: ...
    def absolute_path_field(value: Any) -> str: ...
    def optional_absolute_path_field(value: Any) -> Optional[str]: ...
    def uint32_field(value: Any) -> int: ...
    def boolean_field(value: Any) -> bool: ...
    def choice_field(value: Any) -> str: ...
    def optional_choice_field(value: Any) -> Optional[str]: ...
    def str_tuple_field(value: Any) -> Tuple[str, ...]: ...
    def freeze_mapping_field(value: Any) -> Mapping[str, str]: ...
    def instance_tuple_field(value: Any) -> Tuple[Any, ...]: ...
    def optional_instance_field(value: Any) -> Any: ...

else:
    text_field = FieldCheck(text)
    optional_text_field = FieldCheck(text, keeps_none=True)
    absolute_path_field = FieldCheck(absolute_path)
    optional_absolute_path_field = FieldCheck(absolute_path, keeps_none=True)
    uint32_field = FieldCheck(uint32)
    boolean_field = FieldCheck(boolean)
    choice_field = FieldCheck(one_of)  # metadata=field_options(choices=...)
    optional_choice_field = FieldCheck(one_of, keeps_none=True)
    str_tuple_field = FieldCheck(str_tuple)
    freeze_mapping_field = FieldCheck(freeze_mapping)
    instance_tuple_field = FieldCheck(instance_tuple)
    optional_instance_field = FieldCheck(instance, keeps_none=True, optional=True)
