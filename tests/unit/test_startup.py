"""What a fresh interpreter loads to build and plan a default container, and
the library's logger, which imports logging only once the program has."""

from __future__ import annotations

import subprocess
import sys

#: Standard modules the default container's path must not load: each costs
#: milliseconds at start-up and is used only by features a default config lacks.
NOT_ON_THE_PATH = ("logging", "json", "shutil", "ipaddress", "lzma", "bz2", "hashlib", "socket")
#: Modules of ours a default container does not need (imported where used:
#: networks, seccomp agents, rootless maps and delegated cgroups).
LAZY = ("libcontainer_py._netrun", "libcontainer_py.cni", "libcontainer_py.seccomp.agent", "libcontainer_py.rootless")


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_a_default_container_is_planned_without_the_costly_or_lazy_modules() -> None:
    """What lc.run(["true"]) imports before its clone: none of the costly
    standard modules, nor the library's modules for networks, agents and
    rootless containers (tests/test_cold_start.py runs the container itself)."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import libcontainer_py as lc\n"
        "from libcontainer_py import _run, popen, spawn, _native\n"
        "from libcontainer_py.plan import build_plan\n"
        "build_plan(lc.Config(), 'startup-test')\n"
        "config = lc.Config(process=lc.Process(args=['true']))\n"
        "assert config.namespaces.user is not True and config.seccomp is not None\n"
        "build_plan(config, 'startup-test')\n"
        f"print(' '.join(m for m in {NOT_ON_THE_PATH!r} if m in set(sys.modules) - before))\n"
        f"print(' '.join(m for m in {LAZY!r} if m in sys.modules))\n"
    )
    assert _fresh(code).stdout.split("\n")[:2] == ["", ""]


def test_the_lazy_modules_are_imported_for_what_needs_them() -> None:
    """A user namespace is planned with rootless.py's checks (the test
    above must not pass because nothing imports the module any more)."""
    code = (
        "import sys\n"
        "import libcontainer_py as lc\n"
        "from libcontainer_py.plan import build_plan\n"
        "ns = lc.Namespaces(user=True, mount=True, pid=True)\n"
        "config = lc.Config(namespaces=ns, uid_mappings=[lc.IDMap(0, 0, 1)], gid_mappings=[lc.IDMap(0, 0, 1)])\n"
        "build_plan(config, 'startup-test')\n"
        "print('libcontainer_py.rootless' in sys.modules)\n"
    )
    assert _fresh(code).stdout.strip() == "True"


def test_records_before_logging_is_imported_are_dropped_silently() -> None:
    code = (
        "import sys\n"
        "from libcontainer_py._log import log\n"
        "log.warning('not shown'); log.debug('nor this')\n"
        "assert not log.isEnabledFor(30)\n"
        "print('logging' in sys.modules)\n"
    )
    done = _fresh(code)
    assert done.stdout.strip() == "False" and done.stderr == ""


def test_records_reach_the_programs_logging_once_configured() -> None:
    code = (
        "import logging, sys\n"
        "from libcontainer_py._log import log\n"
        "log.warning('before any handler')\n"  # the NullHandler keeps logging.lastResort quiet
        "logging.basicConfig(stream=sys.stdout, level=logging.DEBUG, format='%(name)s %(levelname)s %(message)s')\n"
        "log.debug('planned %d steps', 3)\n"
        "real = logging.getLogger('libcontainer_py')\n"
        "assert log.isEnabledFor(logging.DEBUG) and log.handlers == real.handlers\n"
        "assert any(isinstance(h, logging.NullHandler) for h in real.handlers)\n"
    )
    done = _fresh(code)
    assert done.stdout == "libcontainer_py DEBUG planned 3 steps\n" and done.stderr == ""
