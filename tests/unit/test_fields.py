"""_fields: checkers bound to their fields' public names by named_fields (no root needed)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, List, Optional, Tuple

import attrs
import pytest

import libcontainer_py as lc
from libcontainer_py._fields import (
    FieldCheck,
    boolean_field,
    field_options,
    instance_of,
    named_fields,
    uint32_field,
)


@attrs.frozen(field_transformer=named_fields("thing"))
class Thing:
    flag: bool = attrs.field(default=False, converter=boolean_field)
    mode: int = attrs.field(default=0, converter=uint32_field, metadata=field_options(maximum=0o7777))
    count: int = attrs.field(default=0, converter=uint32_field, metadata=field_options(name="things"))
    user: Optional[lc.User] = attrs.field(default=None, validator=instance_of(lc.User, optional=True))


@attrs.frozen
class Forgotten:
    flag: bool = attrs.field(default=False, converter=boolean_field)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"flag": 1}, "thing.flag", "expected bool, got int 1"),
        ({"mode": 0o10000}, "thing.mode", "must be between 0 and 4095, got 4096"),
        ({"count": -1}, "things", "must be between 0 and 4294967294, got -1"),
        ({"user": "root"}, "thing.user", "expected User or None, got str 'root'"),
    ],
)
def test_a_field_is_checked_under_its_public_name(kwargs: Any, field: str, message: str) -> None:
    with pytest.raises(lc.ConfigError) as err:
        Thing(**kwargs)
    assert (err.value.field, err.value.message) == (field, message)


def test_the_checker_is_bound_once_with_its_options() -> None:
    assert Thing(flag=True, mode=0o755, count=3, user=lc.User()) == Thing(True, 0o755, 3, lc.User())
    mode = attrs.fields(Thing).mode.converter
    assert mode is not None and not isinstance(mode, FieldCheck)
    assert mode(0o644) == 0o644


def test_a_class_without_named_fields_fails_loudly() -> None:
    with pytest.raises(TypeError, match="named_fields"):
        Forgotten(flag=True)


def test_options_need_a_field_check() -> None:
    with pytest.raises(TypeError, match=r"thing\.n: field_options given to a field without a FieldCheck"):

        @attrs.frozen(field_transformer=named_fields("thing"))
        class Unchecked:
            n: int = attrs.field(default=0, metadata=field_options(maximum=3))


def test_a_plain_default_is_checked_when_the_class_is_made() -> None:
    with pytest.raises(lc.ConfigError, match=r"thing\.mode: must be between 0 and 4095, got 4096"):

        @attrs.frozen(field_transformer=named_fields("thing"))
        class BadDefault:
            mode: int = attrs.field(default=0o10000, converter=uint32_field, metadata=field_options(maximum=0o7777))


def test_the_default_itself_is_not_checked_again() -> None:
    seen: List[Any] = []

    def counted(field: str, value: Any) -> Tuple[Any, ...]:
        seen.append(value)
        return tuple(value)

    @attrs.frozen(field_transformer=named_fields("thing"))
    class Counted:
        items: Tuple[Any, ...] = attrs.field(default=(), converter=FieldCheck(counted))

    assert seen == [()]
    assert Counted().items == () and seen == [()]
    assert Counted(["a"]).items == ("a",) and seen == [(), ["a"]]


def _config_classes() -> List[Tuple[str, type]]:
    found = {}
    for info in pkgutil.walk_packages(lc.__path__, "libcontainer_py."):
        if info.name.endswith(("__main__", "_libseccomp_ffi")):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and attrs.has(value) and value.__module__ == info.name:
                found[f"{info.name}.{value.__qualname__}"] = value
    return sorted(found.items())


def test_no_class_of_the_package_keeps_an_unbound_check() -> None:
    classes = _config_classes()
    assert len(classes) > 30
    for name, cls in classes:
        for a in attrs.fields(cls):
            assert not isinstance(a.converter, FieldCheck), f"{name}.{a.name}: its class needs named_fields"
            assert not isinstance(a.validator, FieldCheck), f"{name}.{a.name}: its class needs named_fields"
