"""Process and User: what runs in the container, and as whom."""

from __future__ import annotations

from typing import Any, Mapping, Tuple

import attrs

from ._fields import absolute_path, converted, fail, freeze_mapping, str_tuple, uint32

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_ENV: Mapping[str, str] = {"PATH": DEFAULT_PATH}


def _gids(field: str, value: Any) -> Tuple[int, ...]:
    if isinstance(value, (str, bytes, int)):
        raise fail(field, f"expected a sequence of gids, got {value!r}")
    return tuple(uint32(f"{field}[{i}]", g) for i, g in enumerate(value))


@attrs.frozen
class User:
    """The uid, gid and supplementary groups the process runs with."""

    uid: int = attrs.field(default=0, converter=converted("user.uid", uint32))
    gid: int = attrs.field(default=0, converter=converted("user.gid", uint32))
    additional_gids: Tuple[int, ...] = attrs.field(
        default=(), converter=converted("user.additional_gids", _gids)
    )


def _args(field: str, value: Any) -> Tuple[str, ...]:
    args = str_tuple(field, value, allow_empty_items=True)
    if not args:
        raise fail(field, "must name a program to run")
    if not args[0]:
        raise fail(f"{field}[0]", "the program name must not be empty")
    return args


def _umask(field: str, value: Any) -> int:
    return uint32(field, value, maximum=0o777)


@attrs.frozen
class Process:
    """The container's process: its argv, environment, cwd, user and umask.

    ``args[0]`` without a slash is looked up in the ``PATH`` of ``env``
    inside the container.
    """

    args: Tuple[str, ...] = attrs.field(converter=converted("process.args", _args))
    env: Mapping[str, str] = attrs.field(
        factory=lambda: dict(DEFAULT_ENV), converter=converted("process.env", freeze_mapping)
    )
    cwd: str = attrs.field(default="/", converter=converted("process.cwd", absolute_path))
    user: User = attrs.field(factory=User)
    umask: int = attrs.field(default=0o022, converter=converted("process.umask", _umask))

    @user.validator
    def _check_user(self, _attr: "attrs.Attribute[User]", value: Any) -> None:
        if not isinstance(value, User):
            raise fail("process.user", f"expected User, got {type(value).__name__} {value!r}")
