"""Image config -> process settings (no root needed)."""

from __future__ import annotations

import pytest

import libcontainer_py as lc
from libcontainer_py.images import image_args, image_env, resolve_user

PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
GROUP = "root:x:0:\nwheel:x:10:user,other\nuser:x:1000:\naudio:x:29:user\n"


def test_args() -> None:
    conf = {"Entrypoint": ["/entry"], "Cmd": ["a", "b"]}
    assert image_args(conf) == ("/entry", "a", "b")
    assert image_args(conf, cmd=["c"]) == ("/entry", "c")
    assert image_args(conf, entrypoint=["/other"]) == ("/other",)  # docker drops the image's Cmd
    assert image_args(conf, entrypoint=["/other"], cmd=["x"]) == ("/other", "x")
    assert image_args({"Cmd": ["sh"]}) == ("sh",)
    with pytest.raises(lc.ConfigError, match="no Entrypoint or Cmd"):
        image_args({})
    with pytest.raises(lc.ConfigError):
        image_args({"Cmd": "sh -c x"})


def test_env() -> None:
    env = image_env({"Env": ["A=1", "B=x=y", "PATH=/bin"]}, {"A": "2"})
    assert env == {"A": "2", "B": "x=y", "PATH": "/bin"}
    assert image_env({})["PATH"].startswith("/usr/local/sbin")
    with pytest.raises(lc.ConfigError):
        image_env({"Env": ["NOEQUALS"]})


def test_users() -> None:
    assert resolve_user("", PASSWD, GROUP) == lc.User(0, 0)
    assert resolve_user("user", PASSWD, GROUP) == lc.User(1000, 1000, [10, 29])
    assert resolve_user("1000", PASSWD, GROUP) == lc.User(1000, 1000, [10, 29])
    assert resolve_user("user:wheel", PASSWD, GROUP) == lc.User(1000, 10)
    assert resolve_user("42:7", None, None) == lc.User(42, 7)
    assert resolve_user("42", None, None) == lc.User(42, 0)
    with pytest.raises(lc.ConfigError, match="no user 'nobody'"):
        resolve_user("nobody", PASSWD, GROUP)
    with pytest.raises(lc.ConfigError, match="no group 'staff'"):
        resolve_user("user:staff", PASSWD, GROUP)
