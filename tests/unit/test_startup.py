"""What a fresh interpreter loads to build and plan a default container, and
the library's logger, which imports logging only once the program has."""

from __future__ import annotations

import subprocess
import sys

#: Standard modules the default container's path must not load: each costs
#: milliseconds at start-up and is used only by features a default config lacks.
NOT_ON_THE_PATH = ("logging", "json", "shutil", "ipaddress", "lzma", "bz2", "hashlib")


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_a_default_container_is_planned_without_the_costly_modules() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import libcontainer_py as lc\n"
        "from libcontainer_py import popen\n"
        "from libcontainer_py.plan import build_plan\n"
        "build_plan(lc.Config(), 'startup-test')\n"
        f"print(' '.join(m for m in {NOT_ON_THE_PATH!r} if m in set(sys.modules) - before))\n"
    )
    assert _fresh(code).stdout.strip() == ""


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
