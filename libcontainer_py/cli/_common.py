"""Helpers shared by the commands (light: no library imports at module level)."""

from __future__ import annotations

import os

from .._private_file import SECCOMP_CACHE as SECCOMP_CACHE  # programs compiled by earlier commands
from .._shortcuts import signal, signal_number
from ._argv import root_of
from ._errors import CliError

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any

    from ..container import Container
    from ._argv import Args


def load(args: Args) -> Container:
    """The container named on the command line; runc's message when absent."""
    from ..container import Container
    from ..state import StateNotFound

    try:
        return Container.load(args.container_id, root=root_of(args))
    except StateNotFound:
        raise CliError("container does not exist") from None


def use_seccomp_cache(args: Args) -> None:
    """Each command is a new process, so the compiled seccomp programs are
    kept on disk, under the state root of the command line (``--root``; the
    library's default is under the default one; seccomp/cache.py): an
    engine's containers share one profile, which libseccomp takes ~20 ms to
    compile."""
    from ..seccomp.compiler import use_disk_cache

    use_disk_cache(os.path.join(root_of(args), SECCOMP_CACHE))


def write_pid_file(path: str, pid: int) -> None:
    """Atomically, without a newline (as runc)."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path))
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def parse_signal(text: str) -> int:
    """``TERM``, ``SIGTERM``, ``sigterm`` or ``15``."""
    if text.isdigit():
        n = int(text)
        if 0 <= n < 65:  # 0: only checks that the process exists
            return n
        raise CliError(f"unknown signal {text!r}")
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    number = signal_number(name)
    if number is not None:
        return number
    if name.startswith("SIGRTMIN+") and name[9:].isdigit():
        return signal.SIGRTMIN + int(name[9:])
    if name.startswith("SIGRTMAX-") and name[9:].isdigit():
        return signal.SIGRTMAX - int(name[9:])
    raise CliError(f"unknown signal {text!r}")


def exit_status(returncode: int) -> int:
    """A killed process's status as a shell (and runc) reports it."""
    return 128 - returncode if returncode < 0 else returncode


def send_console(socket_path: str, master: int) -> None:
    """Send the pty master to ``socket_path`` with SCM_RIGHTS (runc's
    --console-socket protocol: the payload is the terminal's name)."""
    import socket

    try:
        name = os.readlink(f"/proc/self/fd/{master}")
    except OSError:
        name = "/dev/ptmx"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(socket_path)
        socket.send_fds(s, [name.encode()], [master])


def set_winsize(fd: int, size: tuple[int, int] | None) -> None:
    if size is None:
        return
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))


def hand_over(tty_fd: int, size: tuple[int, int] | None, console_socket: str, pid_file: str, pid: int) -> None:
    """What create and exec do once the process exists: its terminal (``tty_fd``,
    or -1) gets the console size and goes to the console socket, if any; its
    pid goes to the pid file, if any."""
    if tty_fd >= 0:
        set_winsize(tty_fd, size)
        if console_socket:
            send_console(console_socket, tty_fd)
    if pid_file:
        write_pid_file(pid_file, pid)


def foreground_status(proc: Any, proxy: bool) -> int:
    """Proxy ``proc``'s terminal (with ``proxy``) until it exits; its exit
    status as a shell reports it."""
    if proxy:
        proxy_terminal(proc.tty_fd, proc)
    return exit_status(int(proc.wait()))


#: Signals a foreground ``run`` or ``exec`` passes on to the container (as
#: runc); SIGWINCH only resizes the container's terminal.
FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH")


class signals_forwarded:  # used as ``with signals_forwarded(proc, proxy):``
    """While a foreground process runs: FORWARDED signals are passed on to
    it, a SIGWINCH copies our terminal's size to its pty when we proxy it."""

    def __init__(self, proc: Any, proxy: bool) -> None:
        self.proc, self.proxy = proc, proxy

    def _forward(self, sig: int, frame: Any) -> None:
        if sig == signal.SIGWINCH:  # a resize, never passed on (as runc)
            if self.proxy:
                copy_winsize(self.proc.tty_fd)
            return
        self.proc.send_signal(sig)

    def __enter__(self) -> None:
        for name in FORWARDED:
            signal.signal(getattr(signal, name), self._forward)

    def __exit__(self, *exc: Any) -> None:
        for name in FORWARDED:
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def copy_winsize(pty_fd: int) -> None:
    """Give the container's terminal our terminal's size (fd 0), as runc does
    when a foreground ``run``/``exec -t`` starts and on every SIGWINCH; a
    no-op when our stdin is no terminal (``process.consoleSize`` stays)."""
    if pty_fd < 0 or not os.isatty(0):
        return
    import fcntl
    import termios

    size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
    fcntl.ioctl(pty_fd, termios.TIOCSWINSZ, size)


def proxy_terminal(master: int, child_poll: object) -> None:
    """Copy our stdin to the pty and the pty to our stdout until the pty is
    closed (the foreground ``run``/``exec -t`` without a console socket)."""
    import select
    import termios
    import tty

    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
    try:
        fds = [master, 0]
        while True:
            ready, _, _ = select.select(fds, [], [], 0.2)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    return
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    fds = [master]
                else:
                    os.write(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def check_console(terminal: bool, console_socket: str, detach: bool) -> None:
    """runc's rules for --console-socket."""
    if console_socket and not terminal:
        raise CliError("cannot use console socket if runc will not detach or allocate tty")
    if terminal and detach and not console_socket:
        raise CliError("cannot allocate tty if runc will detach without setting console socket")
