"""A program's first container, fast: the default container's quick path.

    python3 examples/quick_run.py        (as root)

``lc.run(argv)`` with no config starts the default container (``Config()``)
from a recipe the library saved the first time it ran one (under
``<state root>/.quickrun/``), without importing attrs or the config model.
This example starts fresh interpreters that each run one container, as a
script or a command-line tool would, and shows what they imported, how
long they took beside ``subprocess.run``, and that the container is the
library's: its own hostname and namespaces, the seccomp filter, no new
privileges.  Every property printed is also checked.
"""

import json
import os
import statistics
import subprocess
import sys
import time

from _checks import check, report

PROGRAM = """
import json, sys
import libcontainer_py as lc
r = lc.run(["sh", "-c", "hostname; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; readlink /proc/self/ns/pid"],
           capture_output=True, text=True)
model = sorted(m for m in ("attr", "libcontainer_py.config") if m in sys.modules)
print(json.dumps({"returncode": r.returncode, "stdout": r.stdout, "id": r.container_id, "model": model}))
"""


def fresh(code: str) -> float:
    """Seconds a fresh interpreter takes to run ``code`` (from /, so that the
    installed library is imported, not a checkout)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd="/", check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    first = subprocess.run([sys.executable, "-c", PROGRAM], cwd="/", capture_output=True, text=True, check=True)
    # The first run of a default container may be the one that saves the recipe.
    done = subprocess.run([sys.executable, "-c", PROGRAM], cwd="/", capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    print("a fresh interpreter's lc.run:", result)
    hostname, no_new_privs, seccomp, pid_ns = result["stdout"].splitlines()
    check(json.loads(first.stdout)["returncode"] == 0 and result["returncode"] == 0, "both containers ran")
    check(result["model"] == [], "the second imported neither attrs nor the config model")
    check(hostname == result["id"], f"its hostname is its id ({hostname})")
    check(no_new_privs.split() == ["NoNewPrivs:", "1"], "no new privileges")
    check(seccomp.split() == ["Seccomp:", "2"], "the seccomp filter is loaded")
    check(pid_ns != os.readlink("/proc/self/ns/pid"), "a pid namespace of its own")

    lc_times = [fresh("import libcontainer_py as lc; lc.run(['true'])") for _ in range(5)]
    sub_times = [fresh("import subprocess; subprocess.run(['true'])") for _ in range(5)]
    lc_ms, sub_ms = statistics.median(lc_times) * 1e3, statistics.median(sub_times) * 1e3
    print(f"fresh interpreter: lc.run {lc_ms:.1f} ms, subprocess.run {sub_ms:.1f} ms ({lc_ms / sub_ms:.2f}x)")
    return report()


if __name__ == "__main__":
    sys.exit(main())
