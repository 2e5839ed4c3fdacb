"""_home: a file of a container's root read without following any link out
of it, and HOME as runc sets it."""

from __future__ import annotations

import os
from typing import Any

import pytest

from libcontainer_py._home import passwd_home, read_beneath, with_home

PASSWD = "root:x:0:0:root:/root:/bin/sh\n# a comment:x:5:5::/c:\nuser:x:1000:1000::/home/user:/bin/sh\nbare:x:7:7:::\n"


def test_passwd_home() -> None:
    assert passwd_home(0, PASSWD) == "/root"
    assert passwd_home(1000, PASSWD) == "/home/user"
    assert passwd_home(7, PASSWD) == "/"  # an empty home field
    assert passwd_home(5, PASSWD) == "/"  # a comment is no entry
    assert passwd_home(4242, PASSWD) == "/"
    assert passwd_home(0, None) == "/"  # no /etc/passwd


def test_with_home_only_when_missing_or_empty() -> None:
    assert with_home({"PATH": "/bin"}, 1000, PASSWD) == {"PATH": "/bin", "HOME": "/home/user"}
    assert list(with_home({"HOME": "", "A": "b"}, 0, PASSWD).items()) == [("HOME", "/root"), ("A", "b")]
    assert with_home({"HOME": "/x"}, 0, PASSWD) == {"HOME": "/x"}


def test_read_beneath(tmp_path: Any) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    assert read_beneath(str(root), "etc/passwd") == PASSWD
    assert read_beneath(str(root), "etc/passwd", limit=4) == "root"
    assert read_beneath(str(root), "etc/group") is None
    assert read_beneath(str(tmp_path / "nowhere"), "etc/passwd") is None
    with pytest.raises(ValueError):
        read_beneath(str(root), "../etc/passwd")


def test_no_link_is_followed_out_of_the_root(tmp_path: Any) -> None:
    """An image whose /etc is a link to the host's, or whose passwd is one:
    nothing of the host is read (None), in any component."""
    host = tmp_path / "host"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "passwd").write_text("root:x:0:0::/host-secret:/bin/sh\n")
    linked_dir = tmp_path / "a"
    linked_dir.mkdir()
    (linked_dir / "etc").symlink_to(host / "etc")
    assert read_beneath(str(linked_dir), "etc/passwd") is None
    linked_file = tmp_path / "b"
    (linked_file / "etc").mkdir(parents=True)
    (linked_file / "etc" / "passwd").symlink_to(host / "etc" / "passwd")
    assert read_beneath(str(linked_file), "etc/passwd") is None


def test_a_fifo_is_not_read(tmp_path: Any) -> None:
    """Not regular: None at once (no read blocks on a FIFO)."""
    (tmp_path / "etc").mkdir()
    os.mkfifo(tmp_path / "etc" / "passwd")
    assert read_beneath(str(tmp_path), "etc/passwd") is None
