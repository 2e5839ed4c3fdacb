"""Serve HTTP from a container on a CNI bridge network, and reach it three ways.

    python3 examples/networking.py        (as root; needs busybox-static and
                                           containernetworking-plugins)

1. ``lc.Network.bridge(..., ports={8080: 80})``: the standard plugins
   (bridge, host-local, portmap, firewall) attach the container while its
   first process waits; busybox ``httpd`` then serves a page.
2. The page is fetched from this process at ``web.ip``, through the mapped
   port on 127.0.0.1:8080 (portmap's rules), and from a second container on
   the same network with ``wget``.
3. ``destroy()`` DELs the attachment: no lease, veth or iptables rule is
   left.

So that it never touches this machine's network, the example first moves
itself into a new network namespace of its own (``unshare(CLONE_NEWNET)``):
the bridge, veths and rules are made there, and all traffic stays there.
A real program leaves that step out.
"""

import ctypes
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import libcontainer_py as lc

BUSYBOX = "/bin/busybox"
CLONE_NEWNET = 0x40000000


def private_network_namespace() -> None:
    """This example's own network namespace, with lo up (see the docstring)."""
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def busybox_root(path: str) -> str:
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "www"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for applet in ("sh", "httpd", "wget", "cat", "ip"):
        os.symlink("busybox", os.path.join(path, "bin", applet))
    with open(os.path.join(path, "www", "index.html"), "w") as f:
        f.write("hello from a container\n")
    return path


def wait_until_listening(address: str, port: int) -> None:
    """httpd binds its port a moment after it starts."""
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((address, port), timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def fetch(url: str) -> str:
    # no proxy from the environment: only this namespace's addresses are asked
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return str(response.read().decode())


def main() -> int:
    private_network_namespace()
    work = tempfile.mkdtemp(prefix="lc-networking-")
    try:
        rootfs = busybox_root(os.path.join(work, "rootfs"))
        leases = os.path.join(work, "leases")  # host-local's records, for this example only
        net = lc.Network.bridge(name="lcdemo", subnet="10.89.0.0/24", ports={8080: 80}, data_dir=leases)
        config = lc.Config(
            rootfs=rootfs, network=net, process=lc.Process(args=["httpd", "-f", "-p", "80", "-h", "/www"])
        )
        with lc.Container.create("lcdemo-web", config, root=os.path.join(work, "state")) as web:
            web.start()
            print("web.ip:", web.ip)
            print("interfaces:", [i["name"] for i in web.network_status[0]["interfaces"]])
            wait_until_listening(web.ip, 80)
            assert fetch(f"http://{web.ip}/") == "hello from a container\n"
            assert fetch("http://127.0.0.1:8080/") == "hello from a container\n"
            client = lc.Config(
                rootfs=rootfs, network=lc.Network.bridge(name="lcdemo", subnet="10.89.0.0/24", data_dir=leases)
            )
            r = lc.run(["wget", "-qO-", f"http://{web.ip}/"], config=client, capture_output=True, text=True)
            print("from a second container:", r.stdout.strip())
            assert r.stdout == "hello from a container\n", r.stderr
        try:
            fetch("http://127.0.0.1:8080/")
            raise AssertionError("the port mapping outlived the container")
        except urllib.error.URLError:
            pass
        assert [n for n in os.listdir(os.path.join(leases, "lcdemo")) if n[0].isdigit()] == []
        rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
        assert "CNI-DN-" not in rules
        print("destroyed: no lease, no port mapping, no per-container rule left")
        return 0
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
