"""Build a tiny root filesystem from Debian's busybox-static."""

from __future__ import annotations

import os
import shutil
import subprocess

BUSYBOX = "/bin/busybox"


def make_rootfs(path: str) -> str:
    """Populate ``path`` with busybox, its applets as symlinks in /bin, and a
    minimal /etc; returns ``path``.  Needs the busybox-static package."""
    if not os.path.exists(BUSYBOX):
        raise RuntimeError(f"{BUSYBOX} is missing: apt-get install busybox-static")
    os.makedirs(path, exist_ok=True)
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "usr/bin", "sbin"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    os.chmod(os.path.join(path, "tmp"), 0o1777)
    target = os.path.join(path, "bin", "busybox")
    shutil.copy2(BUSYBOX, target)
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = os.path.join(path, "bin", applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nuser:x:1000:1000:user:/:/bin/sh\n"
        )
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write("root:x:0:\ntty:x:5:\nwheel:x:10:user\nuser:x:1000:\nnogroup:x:65534:\n")
    return path
