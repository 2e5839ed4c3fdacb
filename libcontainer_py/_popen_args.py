"""subprocess-style arguments of run() and ContainerProcess (args, env, cwd,
user, shell) applied to a Config, and the checks made before anything exists."""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import attrs

from ._home import read_beneath, with_home
from ._passwd import resolve_user
from .config import Config
from .errors import ConfigError
from .process import User

#: What ``user=`` accepts: a uid, "uid:gid", a name (or "name:group") looked
#: up in the container's root, or a User.
UserArg = Union[int, str, User, None]


def check_config(config: Any) -> Config:
    """``config`` itself, if it is a Config; a ConfigError that says how to
    make one otherwise (a dict is the usual mistake)."""
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        raise ConfigError(
            "config",
            "a dict is not a Config: build one with lc.Config(...), or convert an OCI "
            "config.json document with lc.Config.from_oci(doc, bundle=...)",
        )
    raise ConfigError("config", f"expected Config, got {type(config).__name__}")


def with_process_args(
    config: Config,
    args: Union[str, Sequence[str], None] = None,
    *,
    env: Optional[Mapping[str, str]] = None,
    cwd: Union[str, os.PathLike[str], None] = None,
    user: UserArg = None,
    shell: bool = False,
) -> Config:
    """``config`` with its process changed as subprocess's arguments say:
    ``env`` replaces the environment, ``shell=True`` runs the str ``args``
    with ``/bin/sh -c`` in the container."""
    changes: Dict[str, Any] = {}
    if shell:
        if not isinstance(args, str):
            raise ConfigError("args", f"shell=True takes the command as one str, got {args!r}")
        changes["args"] = ("/bin/sh", "-c", args)
    elif isinstance(args, str):
        raise ConfigError("args", f"a str command runs only with shell=True; pass a list for a program: {args!r}")
    elif args is not None:
        changes["args"] = args
    if env is not None:
        changes["env"] = env
    if cwd is not None:
        changes["cwd"] = os.fspath(cwd)
    if user is not None:
        changes["user"] = resolve_user_arg(config, user)
    if not changes:
        return config
    return attrs.evolve(config, process=attrs.evolve(config.process, **changes))


def resolve_user_arg(config: Config, user: UserArg) -> User:
    """``user=`` as a User: names are looked up in the container's
    /etc/passwd and /etc/group (as docker's ``--user`` does)."""
    if isinstance(user, User):
        return user
    if isinstance(user, bool) or not isinstance(user, (int, str)):
        raise ConfigError("user", f"expected a uid, 'uid:gid', a user name or a User, got {user!r}")
    spec = str(user)
    if spec.replace(":", "").isdigit() and spec.count(":") == 1:
        uid, gid = spec.split(":")
        return User(int(uid), int(gid))
    passwd = container_file(config, "etc/passwd")
    if not spec.partition(":")[0].isdigit() and passwd is None:
        raise ConfigError("user", f"the container's root has no /etc/passwd to look {spec!r} up in")
    return resolve_user(spec, passwd, container_file(config, "etc/group"))


def with_passwd_home(config: Config) -> Config:
    """``config`` with ``HOME`` in its process's environment when
    ``Process.passwd_home`` asks for it and there is none: the user's home
    from the root's /etc/passwd (container_file), as runc's."""
    process = config.process
    if not process.passwd_home or process.env.get("HOME"):
        return config
    env = with_home(process.env, process.user.uid, container_file(config, "etc/passwd"))
    return attrs.evolve(config, process=attrs.evolve(process, env=env))


def container_file(config: Config, path: str) -> Optional[str]:
    """The text of a small regular file of the container's root as set up
    (the host's for Rootfs.host() and no rootfs; the upper layer first for an
    overlay); None when missing.  Symlinks are not followed, in any
    component (_home.read_beneath)."""
    rootfs = config.rootfs
    if rootfs is None or rootfs.is_host:
        roots = ["/"]
    elif rootfs.is_overlay:
        roots = ([rootfs.upper] if rootfs.upper else []) + list(reversed(rootfs.lower))  # the top first
    else:
        assert rootfs.path is not None
        roots = [rootfs.path]
    for root in roots:
        text = read_beneath(root, path)
        if text is not None:
            return text
    return None


def check_host_paths(config: Config) -> None:
    """The root filesystem's directories exist on the host (a ConfigError
    naming the path otherwise), checked before anything is made."""
    rootfs = config.rootfs
    if rootfs is None:
        return
    named = [("rootfs.path", rootfs.path)] if rootfs.path else []
    named += [(f"rootfs.lower[{i}]", p) for i, p in enumerate(rootfs.lower)]
    for field, path in named:
        if os.geteuid() != 0:
            from .rootless import check_rootfs

            check_rootfs(field, path)  # before "does not exist": it may be only unreachable
        if not os.path.exists(path):
            raise ConfigError(field, f"the directory {path!r} does not exist")
        if not os.path.isdir(path):
            raise ConfigError(field, f"{path!r} is not a directory")


def check_pass_fds(pass_fds: Sequence[int]) -> None:
    """Every fd in ``pass_fds`` is open in this process."""
    for i, fd in enumerate(pass_fds):
        if isinstance(fd, bool) or not isinstance(fd, int) or fd < 0:
            raise ConfigError(f"pass_fds[{i}]", f"expected an fd number, got {fd!r}")
        try:
            os.fstat(fd)
        except OSError:
            raise ConfigError(f"pass_fds[{i}]", f"fd {fd} is not open in this process") from None
