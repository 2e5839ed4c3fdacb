"""A real unprivileged user for the rootless tests, and a venv it can run.

The session makes a user (``useradd``) with a subordinate uid and gid range
(/etc/subuid, /etc/subgid), a world-readable directory under /tmp holding
its home, its XDG_RUNTIME_DIR and a venv made from Debian's
``/usr/bin/python3`` with this project installed from a wheel built once
(from a copy of the source: the checkout may live where the user cannot
enter, /root say).  Everything is removed at the end, the user's processes
(rootless podman's pause process) first.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import attrs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM_PYTHON = "/usr/bin/python3"
USER_NAME = "lcrootless"
#: The user's subordinate range: outside what useradd hands out (100000+).
SUB_START = 3_000_000
SUB_COUNT = 65536
_SKIP = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".*_cache")


@attrs.frozen
class RootlessUser:
    """The test user and where its things are."""

    name: str
    uid: int
    gid: int
    base: str
    home: str
    runtime_dir: str
    python: str

    @property
    def bin(self) -> str:
        return os.path.dirname(self.python)

    def env(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        env = {
            "HOME": self.home,
            "USER": self.name,
            "LOGNAME": self.name,
            "XDG_RUNTIME_DIR": self.runtime_dir,
            "PATH": f"{self.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
        }
        env.update(extra or {})
        return env

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = 120,
        cwd: Optional[str] = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as the user (no supplementary groups), output captured."""
        return subprocess.run(
            list(argv),
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            env=self.env(env),
            cwd=cwd or self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def processes(self) -> List[int]:
        """Pids of the user's live processes."""
        pids = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if os.stat(f"/proc/{name}").st_uid == self.uid:
                        pids.append(int(name))
                except FileNotFoundError:
                    pass
        return pids


def _build_wheel(workdir: str) -> str:
    """A wheel of this checkout, built by /usr/bin/python3 from a copy."""
    src = os.path.join(workdir, "src")
    shutil.copytree(REPO, src, ignore=_SKIP)
    builder = os.path.join(workdir, "builder")
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", builder], check=True)
    wheels = os.path.join(workdir, "wheels")
    subprocess.run(
        [os.path.join(builder, "bin", "pip"), "wheel", "-q", "--no-deps", "-w", wheels, src],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(src)
    shutil.rmtree(builder)
    (name,) = os.listdir(wheels)
    return os.path.join(wheels, name)


def _make_venv(base: str, wheel: str) -> str:
    venv = os.path.join(base, "venv")
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", venv], check=True)
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", wheel], check=True, capture_output=True)
    return os.path.join(venv, "bin", "python")


def _remove_user_entries() -> None:
    for path in ("/etc/subuid", "/etc/subgid"):
        with open(path) as f:
            lines = f.readlines()
        kept = [line for line in lines if not line.startswith(USER_NAME + ":")]
        if kept != lines:
            with open(path, "w") as f:
                f.writelines(kept)


def create_user() -> RootlessUser:
    """Make the user, its directories and its venv (see the module doc)."""
    if not os.path.exists(SYSTEM_PYTHON):
        raise RuntimeError(f"{SYSTEM_PYTHON} is missing: apt-get install python3-venv")
    _delete_user_if_any()
    base = tempfile.mkdtemp(prefix="lc-rootless-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        home = os.path.join(base, "home")
        subprocess.run(
            [
                "useradd",
                "-K",
                "SUB_UID_COUNT=0",
                "-K",
                "SUB_GID_COUNT=0",
                "--home-dir",
                home,
                "--create-home",
                "--shell",
                "/bin/sh",
                USER_NAME,
            ],
            check=True,
        )
        last = SUB_START + SUB_COUNT - 1
        subprocess.run(
            ["usermod", "--add-subuids", f"{SUB_START}-{last}", "--add-subgids", f"{SUB_START}-{last}", USER_NAME],
            check=True,
        )
        entry = pwd.getpwnam(USER_NAME)
        runtime_dir = os.path.join(base, "run")
        os.mkdir(runtime_dir, 0o700)
        os.chown(runtime_dir, entry.pw_uid, entry.pw_gid)
        wheel = _build_wheel(tempfile.mkdtemp(prefix="wheel-", dir=base))
        python = _make_venv(base, wheel)
        return RootlessUser(USER_NAME, entry.pw_uid, entry.pw_gid, base, home, runtime_dir, python)
    except BaseException:
        _delete_user_if_any()
        shutil.rmtree(base, ignore_errors=True)
        raise


def _delete_user_if_any() -> None:
    try:
        uid = pwd.getpwnam(USER_NAME).pw_uid
    except KeyError:
        _remove_user_entries()
        return
    _kill_all(uid)
    subprocess.run(["userdel", USER_NAME], check=True, capture_output=True)
    _remove_user_entries()


def _kill_all(uid: int) -> None:
    """SIGKILL the user's processes, each by its pid, until none is left."""
    deadline = time.monotonic() + 30
    while True:
        pids = RootlessUser("", uid, 0, "", "", "", "").processes()
        if not pids:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of uid {uid} do not go away: {pids}")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def remove_user(user: RootlessUser) -> None:
    """Remove the user, its processes, entries and directories."""
    _delete_user_if_any()
    # Rootless podman's storage holds files of the subordinate ids, some
    # read-only: make them removable first.
    subprocess.run(["chmod", "-R", "u+rwX", user.base], capture_output=True)
    shutil.rmtree(user.base)


#: What ``as_user`` runs first: ``emit(x)`` prints ``x`` in JSON, last.
EMIT_PRELUDE = "import json, sys\ndef emit(x):\n    print('\\n' + json.dumps(x))\n"


def as_user(user: RootlessUser, code: str, *, delegated: Optional[str] = None, **kwargs: Any) -> Any:
    """Run ``code`` (Python, dedented) as ``user``; it ends with ``emit(x)``,
    whose ``x`` is returned.  ``delegated``: a directory of delegated_cgroup
    the process starts in (its ``init``), as systemd's user@ service does."""
    program = [user.python, "-c", EMIT_PRELUDE + textwrap.dedent(code)]
    if delegated is None:
        done = user.run(program, **kwargs)
    else:
        enter = f"echo $$ > {delegated}/init/cgroup.procs"
        become = f'setpriv --reuid {user.uid} --regid {user.gid} --clear-groups -- "$@"'
        done = subprocess.run(
            ["sh", "-c", f"{enter} && exec {become}", "sh", *program],
            env=user.env(),
            cwd=user.home,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@contextlib.contextmanager
def delegated_cgroup(user: RootlessUser, name: str) -> Iterator[str]:
    """A directory ``name`` of the cgroup2 mount chowned to ``user``
    (delegation), with ``init`` to hold the user's process; removed after."""
    path = f"/sys/fs/cgroup/unified/{name}-{os.getpid()}"
    os.makedirs(os.path.join(path, "init"))
    try:
        subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", path], check=True)
        yield path
    finally:
        for d in sorted((os.path.join(path, n) for n in os.listdir(path)), reverse=True):
            if os.path.isdir(d):
                os.rmdir(d)
        os.rmdir(path)
