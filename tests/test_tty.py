"""Process(terminal=True): a pseudo-terminal from the container's own devpts
on 0/1/2, the controlling terminal of a new session; the master end is
handed to the caller -- for the first process and for exec."""

from __future__ import annotations

import os
import select
import time

import libcontainer_py as lc


def read_until(fd: int, marker: bytes, timeout: float = 10) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while marker not in out and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the terminal's last user is gone
                break
            if not chunk:
                break
            out += chunk
    return out


SCRIPT = (
    "tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; "
    "echo sid $(cut -d' ' -f6 /proc/$$/stat) pid $$; awk '{print \"tty_nr\", $7}' /proc/self/stat; "
    "read line; echo got:$line; echo end"
)


def test_terminal_for_the_first_process(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", SCRIPT], terminal=True))
    with lc.ContainerProcess(config) as proc:
        assert proc.tty_fd >= 0 and proc.stdout is None
        first = read_until(proc.tty_fd, b"tty_nr")
        os.write(proc.tty_fd, b"hello\n")
        rest = read_until(proc.tty_fd, b"end")
        assert proc.wait(10) == 0
    text = (first + rest).decode().replace("\r\n", "\n")
    assert text.startswith("/dev/pts/0\nall-ttys\n")
    assert "sid 1 pid 1" in text  # the shell leads the session the terminal belongs to
    assert "tty_nr 0" not in text and "got:hello" in text


def test_terminal_for_exec(busybox: str, tmp_path) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "30"]))
    with lc.Container.create("tty-exec", config, root=str(tmp_path / "state")) as c:
        c.start()
        proc = c.exec(["sh", "-c", SCRIPT], terminal=True)
        first = read_until(proc.tty_fd, b"tty_nr")
        os.write(proc.tty_fd, b"x\n")
        rest = read_until(proc.tty_fd, b"end")
        assert proc.wait(10) == 0
        proc.close()
    text = (first + rest).decode().replace("\r\n", "\n")
    assert text.startswith("/dev/pts/0\nall-ttys\n") and "got:x" in text
