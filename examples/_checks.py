"""What the examples share: a check that prints its verdict, the report at
the end, and a busybox root filesystem (imported by the examples beside it;
not an example itself)."""

import os
import shutil
import subprocess
import sys

BUSYBOX = "/bin/busybox"  # Debian's busybox-static: one static binary

#: A minimal /etc: root and nobody.
MINIMAL_ETC = {
    "passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
}

failures = []


def check(ok, what):
    """Print ``what`` with ok or FAILED; remember a failure."""
    print(f"  {'ok' if ok else 'FAILED'}  {what}")
    if not ok:
        failures.append(what)


def report():
    """The exit status: 1 and the failures named, or 0."""
    if failures:
        print(f"\nFAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\nall checks passed")
    return 0


def make_busybox_rootfs(path, dirs=("bin", "etc", "proc", "sys", "dev", "tmp", "root"), etc=MINIMAL_ETC):
    """A busybox root filesystem in ``path``: the directories ``dirs`` (/tmp
    world-writable), the binary with a symlink per applet in /bin, and the
    files ``etc`` ({name: text}) in /etc.  Returns ``path``."""
    for d in dirs:
        os.makedirs(os.path.join(path, d), exist_ok=True)
    os.chmod(os.path.join(path, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", os.path.join(path, "bin", applet))
    for name, text in etc.items():
        with open(os.path.join(path, "etc", name), "w") as f:
            f.write(text)
    return path
