"""CNI networks (issue 17), each test in a network namespace of its own.

The ``netns`` fixture moves the test's thread into a new network namespace
(tests/support/netns.py): the plugins it runs make their bridge, veths and
iptables rules there, and traffic goes only to this namespace's addresses
and its containers'.  host-local keeps its leases in the test's tmp_path.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any, Iterator, List

import attrs
import pytest
from support import engines
from support.examples import example
from support.netns import ORIGINAL, iptables_rules, leases, links, netns_id, private_netns

import libcontainer_py as lc
from libcontainer_py import _netrun

#: examples/networking.py: its wait_until_listening and fetch (no proxy).
NETWORKING = example("networking")

SUBNET = "10.89.0.0/24"


@pytest.fixture
def netns() -> Iterator[str]:
    with private_netns() as ns:
        yield ns


@pytest.fixture
def leases_dir(tmp_path: Any) -> str:
    path = tmp_path / "cni-leases"
    path.mkdir()
    return str(path)


@pytest.fixture
def root(tmp_path: Any) -> Iterator[str]:
    path = str(tmp_path / "state")
    yield path
    assert not os.path.exists(path) or os.listdir(path) == []


def bridge(leases_dir: str, name: str = "lcpyt", **kwargs: Any) -> lc.Network:
    return lc.Network.bridge(name=name, subnet=SUBNET, data_dir=leases_dir, **kwargs)


@contextlib.contextmanager
def sleeping_on_the_bridge(container_id: str, busybox: str, leases_dir: str, root: str) -> Iterator[lc.Container]:
    """A started container of ``sleep 100`` on bridge(leases_dir), destroyed at the end."""
    config = lc.Config(rootfs=busybox, network=bridge(leases_dir), process=lc.Process(args=["sleep", "100"]))
    with lc.Container.create(container_id, config, root=root) as c:
        c.start()
        yield c


def nothing_left(leases_dir: str, name: str = "lcpyt") -> None:
    """No lease, no veth, no per-container iptables chain, no network record."""
    assert leases(leases_dir, name) == []
    assert [n for n in links() if n.startswith("veth")] == []
    rules = iptables_rules()
    assert "CNI-DN-" not in rules and "CNI-SN-" not in rules, rules
    records = os.path.join(lc.DEFAULT_ROOT, _netrun.NETWORK_DIR)
    assert not os.path.isdir(records) or os.listdir(records) == []


def test_the_first_instruction_sees_eth0_with_its_address_and_route(
    busybox: str, netns: str, leases_dir: str, no_leaks: None
) -> None:
    config = lc.Config(rootfs=busybox, network=bridge(leases_dir))
    r = lc.run(
        ["sh", "-c", "cat /proc/net/route; ip -o -4 addr show eth0; readlink /proc/self/ns/net"],
        config=config,
        capture_output=True,
        text=True,
        container_id="lcnet-first",
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # the kernel's routing table: a default route (destination 0) through eth0
    assert any(line.split()[:2] == ["eth0", "00000000"] for line in lines[1:])
    address = next(line.split()[3] for line in lines if " inet " in line)
    assert ipaddress.ip_interface(address).network == ipaddress.ip_network(SUBNET)
    assert lines[-1] != netns  # the container's own namespace, not ours
    nothing_left(leases_dir)


def test_http_served_from_a_container_through_its_ip_and_a_mapped_port(
    busybox: str, netns: str, leases_dir: str, root: str, tmp_path: Any, no_leaks: None
) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from the container\n")
    net = bridge(leases_dir, ports={8080: 80})
    config = lc.Config(
        rootfs=busybox,
        network=net,
        mounts=lc.Mounts.default() + [lc.Mount.bind(str(www), "/www", readonly=True)],
        process=lc.Process(args=["httpd", "-f", "-p", "80", "-h", "/www"]),
    )
    with lc.Container.create("lcnet-web", config, root=root) as web:
        web.start()
        assert web.ip is not None and ipaddress.ip_address(web.ip) in ipaddress.ip_network(SUBNET)
        status = web.network_status
        assert [i["name"] for i in status[0]["interfaces"] if i.get("sandbox")] == ["eth0"]
        NETWORKING.wait_until_listening(web.ip, 80)
        # from this namespace: the container's address, then the mapped port on loopback
        assert NETWORKING.fetch(f"http://{web.ip}/") == "hello from the container\n"
        assert NETWORKING.fetch("http://127.0.0.1:8080/") == "hello from the container\n"
        # from another container on the same network
        client = lc.Config(rootfs=busybox, network=net)
        r = lc.run(["wget", "-qO-", f"http://{web.ip}/"], config=client, capture_output=True, text=True)
        assert (r.returncode, r.stdout) == (0, "hello from the container\n"), r.stderr
        assert "CNI-DN-" in iptables_rules()
    with pytest.raises(OSError):
        NETWORKING.fetch("http://127.0.0.1:8080/")  # the mapping went with the container
    nothing_left(leases_dir)


def test_resolv_conf_and_hosts_come_from_the_result(busybox: str, netns: str, leases_dir: str, no_leaks: None) -> None:
    dns = {"nameservers": ["10.89.0.53"], "search": ["example.test"], "options": ["ndots:2"]}
    config = lc.Config(rootfs=busybox, hostname="webhost", network=bridge(leases_dir, dns=dns))
    r = lc.run(
        # ping resolves the hostname through /etc/hosts (the nameserver, should it
        # be asked, is an address of this test's own subnet) and reaches itself
        [
            "sh",
            "-c",
            "cat /etc/resolv.conf; echo @@; cat /etc/hosts; echo @@; ip -o -4 addr show eth0; echo @@;"
            " ping -c 1 -W 5 webhost",
        ],
        config=config,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    resolv, hosts, addr, ping = r.stdout.split("@@\n")
    assert resolv == "nameserver 10.89.0.53\nsearch example.test\noptions ndots:2\n"
    address = addr.split()[3].partition("/")[0]
    assert f"{address}\twebhost" in hosts.splitlines()
    assert "127.0.0.1\tlocalhost" in hosts.splitlines()
    assert ping.splitlines()[0].startswith(f"PING webhost ({address})")
    assert f"64 bytes from {address}" in ping


def test_without_dns_in_the_result_resolv_conf_is_the_hosts(
    busybox: str, netns: str, leases_dir: str, no_leaks: None
) -> None:
    config = lc.Config(rootfs=busybox, network=bridge(leases_dir))
    r = lc.run(["cat", "/etc/resolv.conf"], config=config, capture_output=True, text=True)
    with open("/etc/resolv.conf") as f:
        assert r.stdout == f.read()


def test_a_fixed_ip_and_two_networks(busybox: str, netns: str, leases_dir: str, no_leaks: None) -> None:
    first = bridge(leases_dir, ip="10.89.0.77")
    second = lc.Network.bridge(name="lcpyt2", subnet="10.90.0.0/24", data_dir=leases_dir)
    config = lc.Config(rootfs=busybox, network=[first, second])
    assert [n.ifname for n in config.network] == ["eth0", "eth1"]
    r = lc.run(["ip", "-o", "-4", "addr"], config=config, capture_output=True, text=True)
    found = {line.split()[1]: line.split()[3] for line in r.stdout.splitlines()}
    assert found["eth0"] == "10.89.0.77/24"
    assert ipaddress.ip_interface(found["eth1"]).network == ipaddress.ip_network("10.90.0.0/24")
    nothing_left(leases_dir)
    nothing_left(leases_dir, "lcpyt2")


def test_a_mac_address_set_by_tuning(busybox: str, netns: str, leases_dir: str, no_leaks: None) -> None:
    config = lc.Config(rootfs=busybox, network=bridge(leases_dir, mac="02:42:ac:11:00:07"))
    r = lc.run(["cat", "/sys/class/net/eth0/address"], config=config, capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "02:42:ac:11:00:07\n"), r.stderr
    nothing_left(leases_dir)


def test_an_inline_list_of_other_plugins(busybox: str, netns: str, leases_dir: str, no_leaks: None) -> None:
    """Network.cni with a document: ptp (a veth without a bridge) and host-local."""
    ipam = {"type": "host-local", "subnet": "10.92.0.0/24", "dataDir": leases_dir}
    net = lc.Network.cni({"cniVersion": "1.0.0", "name": "lcptp", "plugins": [{"type": "ptp", "ipam": ipam}]})
    r = lc.run(
        ["ip", "-o", "-4", "addr", "show", "eth0"],
        config=lc.Config(rootfs=busybox, network=net),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert ipaddress.ip_interface(r.stdout.split()[3]).network == ipaddress.ip_network("10.92.0.0/24")
    assert leases(leases_dir, "lcptp") == [] and [n for n in links() if n.startswith("veth")] == []


def test_a_missing_plugin_is_a_config_error_before_anything_exists(busybox: str, netns: str, no_leaks: None) -> None:
    net = lc.Network.cni({"cniVersion": "1.0.0", "name": "lcpyt", "plugins": [{"type": "no-such-plugin"}]})
    with pytest.raises(lc.ConfigError) as info:
        lc.run(["true"], config=lc.Config(rootfs=busybox, network=net), container_id="lcnet-missing")
    assert "no-such-plugin" in str(info.value) and "containernetworking-plugins" in str(info.value)
    assert not os.path.exists(_netrun.owned_directory(lc.DEFAULT_ROOT, "lcnet-missing"))


def test_a_plugin_error_is_typed_and_what_was_added_is_deleted(
    busybox: str, netns: str, leases_dir: str, no_leaks: None
) -> None:
    good = bridge(leases_dir)
    # the second network's fixed address is outside its range: host-local refuses it
    bad = lc.Network.bridge(name="lcpyt2", subnet="10.90.0.0/24", data_dir=leases_dir, ip="10.91.0.5/24")
    with pytest.raises(lc.CniError) as info:
        lc.run(["true"], config=lc.Config(rootfs=busybox, network=[good, bad]), container_id="lcnet-bad")
    assert info.value.plugin == "bridge" and info.value.command == "ADD"
    assert info.value.code != 0 and "10.91.0.5" in info.value.msg
    nothing_left(leases_dir)
    nothing_left(leases_dir, "lcpyt2")
    assert not os.path.exists(_netrun.owned_directory(lc.DEFAULT_ROOT, "lcnet-bad"))


def test_threads_get_distinct_addresses(busybox: str, netns: str, leases_dir: str, no_leaks: None) -> None:
    config = lc.Config(rootfs=busybox, network=bridge(leases_dir))
    found: List[str] = []
    errors: List[BaseException] = []

    def one() -> None:
        try:
            r = lc.run(["ip", "-o", "-4", "addr", "show", "eth0"], config=config, capture_output=True, text=True)
            found.append(r.stdout.split()[3])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(found)) == 8
    nothing_left(leases_dir)


def other_process(code: str) -> str:
    """Run ``code`` in a new Python process, a child of this thread (so in its namespace)."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_container_made_here_is_reached_and_destroyed_from_another_process(
    busybox: str, netns: str, leases_dir: str, root: str, no_leaks: None
) -> None:
    config = lc.Config(rootfs=busybox, network=bridge(leases_dir), process=lc.Process(args=["sleep", "100"]))
    web = lc.Container.create("lcnet-other", config, root=root)
    try:
        web.start()
        mine = [web.ip, web.network_status]
        out = other_process(f"""
            import json, libcontainer_py as lc
            c = lc.Container.load("lcnet-other", root={root!r})
            print(json.dumps([c.ip, c.network_status]))
            c.check_network()
            c.destroy()
        """)
        assert json.loads(out) == mine and mine[0] is not None
        assert web.status() == "stopped" and web.network_status == []
        nothing_left(leases_dir)
    finally:
        web.destroy()


def test_check_finds_a_removed_address(busybox: str, netns: str, leases_dir: str, root: str, no_leaks: None) -> None:
    with sleeping_on_the_bridge("lcnet-check", busybox, leases_dir, root) as c:
        c.check_network()
        subprocess.run(["nsenter", f"--net=/proc/{c.pid}/ns/net", "ip", "addr", "flush", "dev", "eth0"], check=True)
        with pytest.raises(lc.CniError) as info:
            c.check_network()
        assert info.value.command == "CHECK"
    nothing_left(leases_dir)


def _orphaning_owner(busybox: str, leases_dir: str, container_id: str) -> subprocess.Popen[str]:
    """A process that runs an attached container with a network, SIGKILLed
    once the container is up (the container dies with it)."""
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import libcontainer_py as lc
                net = lc.Network.bridge(name="lcpyt", subnet={SUBNET!r}, data_dir={leases_dir!r})
                p = lc.ContainerProcess(lc.Config(rootfs={busybox!r}, network=net), args=["sleep", "100"],
                                        container_id={container_id!r}, stdout=lc.DEVNULL)
                print(p.ip, flush=True)
                p.wait()
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    ip = owner.stdout.readline().strip()
    assert leases(leases_dir, "lcpyt") == [ip]
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    owner.stdout.close()
    assert os.path.isdir(_netrun.owned_directory(lc.DEFAULT_ROOT, container_id))
    return owner


def test_a_dead_owners_network_is_deleted_by_the_next_start(
    busybox: str, netns: str, leases_dir: str, no_leaks: None
) -> None:
    _orphaning_owner(busybox, leases_dir, "lcnet-orphan")
    lc.run(["true"], config=lc.Config(rootfs=busybox))  # any start reclaims
    assert not os.path.exists(_netrun.owned_directory(lc.DEFAULT_ROOT, "lcnet-orphan"))
    assert leases(leases_dir, "lcpyt") == []
    assert "CNI-DN-" not in iptables_rules()


def test_the_fixture_namespace_is_not_the_hosts(netns: str) -> None:
    assert netns != ORIGINAL and netns_id() == netns
    assert links() == ["lo"]


def test_an_exec_sees_the_containers_interfaces_and_files(
    busybox: str, netns: str, leases_dir: str, root: str, no_leaks: None
) -> None:
    with sleeping_on_the_bridge("lcnet-exec", busybox, leases_dir, root) as c:
        proc = c.exec(["sh", "-c", "ip -o -4 addr show eth0; cat /etc/hosts"], stdout=lc.PIPE, text=True)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert f"inet {c.ip}/24" in out and f"{c.ip}\tlcnet-exec" in out.splitlines()
    nothing_left(leases_dir)


def test_a_program_that_cannot_start_leaves_no_network(
    busybox: str, netns: str, leases_dir: str, no_leaks: None
) -> None:
    config = lc.Config(rootfs=busybox, network=bridge(leases_dir))
    with pytest.raises(lc.ExecError):
        lc.run(["/no/such/program"], config=config, container_id="lcnet-noexec")
    nothing_left(leases_dir)
    assert not os.path.exists(_netrun.owned_directory(lc.DEFAULT_ROOT, "lcnet-noexec"))


def test_a_failing_create_hook_deletes_the_network(
    busybox: str, netns: str, leases_dir: str, root: str, no_leaks: None
) -> None:
    seen: List[str] = []

    def boom(state: Any) -> None:
        seen.extend(leases(leases_dir, "lcpyt"))  # added by then
        raise RuntimeError("no")

    config = lc.Config(rootfs=busybox, network=bridge(leases_dir), process=lc.Process(args=["true"]))
    with pytest.raises(lc.HookError):
        lc.Container.create("lcnet-hook", config, root=root, callbacks={"create_runtime": [boom]})
    assert len(seen) == 1
    nothing_left(leases_dir)


def test_in_a_user_namespace(busybox: str, netns: str, leases_dir: str, no_leaks: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        namespaces=attrs.evolve(lc.Namespaces.default(), user=True),
        network=bridge(leases_dir),
    )
    r = lc.run(["sh", "-c", "ip -o -4 addr show eth0; cat /etc/hosts"], config=config, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    address = r.stdout.split()[3].partition("/")[0]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(SUBNET)
    assert any(line.startswith(f"{address}\t") for line in r.stdout.splitlines())
    nothing_left(leases_dir)


def test_close_from_a_thread_in_another_namespace_deletes_where_add_ran(
    busybox: str, netns: str, leases_dir: str, no_leaks: None
) -> None:
    """A ContainerProcess closed (or collected) by a thread elsewhere: DEL
    still runs in the namespace ADD ran in, where the rules are."""
    proc = lc.ContainerProcess(
        lc.Config(rootfs=busybox, network=bridge(leases_dir, ports={8081: 80})), args=["sleep", "100"]
    )
    assert "CNI-DN-" in iptables_rules()
    seen: List[str] = []

    def elsewhere() -> None:
        with private_netns() as other:
            seen.append(other)
            proc.kill()
            proc.wait()
            proc.close()
            seen.append(netns_id())

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert seen[0] != netns and seen[1] == seen[0]  # the thread was elsewhere, and is back there
    nothing_left(leases_dir)


def test_a_container_is_destroyed_only_from_the_namespace_add_ran_in(
    busybox: str, netns: str, leases_dir: str, root: str, no_leaks: None
) -> None:
    with sleeping_on_the_bridge("lcnet-foreign", busybox, leases_dir, root) as c:
        with private_netns():
            with pytest.raises(lc.ForeignNetns):
                lc.Container.load("lcnet-foreign", root=root).destroy()
        assert c.status() == "running" and len(leases(leases_dir, "lcpyt")) == 1
    nothing_left(leases_dir)


def test_a_dead_owners_network_is_left_to_its_namespace(
    busybox: str, netns: str, leases_dir: str, no_leaks: None
) -> None:
    owner = _orphaning_owner(busybox, leases_dir, "lcnet-orphan2")
    directory = _netrun.owned_directory(lc.DEFAULT_ROOT, "lcnet-orphan2")
    with private_netns():
        lc.run(["true"], config=lc.Config(rootfs=busybox))  # starts elsewhere do not touch it
    assert os.path.isdir(directory) and len(leases(leases_dir, "lcpyt")) == 1
    lc.run(["true"], config=lc.Config(rootfs=busybox))
    assert not os.path.exists(directory) and leases(leases_dir, "lcpyt") == []
    assert owner.returncode == -signal.SIGKILL


def test_under_podman_the_engine_attaches_a_container_of_our_runtime(
    busybox: str, netns: str, leases_dir: str, tmp_path: Any
) -> None:
    """The command line needs nothing new: podman (CNI backend, the same
    plugins) attaches the container and passes its namespace to our runtime."""
    podman = engines.Podman(str(tmp_path / "podman"), busybox, engines.our_binary())
    try:
        podman.use_cni(lc.Network.bridge(name="lcpodman", subnet="10.91.0.0/24", data_dir=leases_dir).document)
        flags = list(engines.PODMAN_RUN_FLAGS[2:])  # the ulimits this VM needs, not --network none
        done = podman("run", "--rm", *flags, "--network", "bridge", engines.IMAGE, "ip", "-o", "-4", "addr", "show")
        done.check()
        found = {line.split()[1]: line.split()[3] for line in done.stdout.splitlines()}
        assert ipaddress.ip_interface(found["eth0"]).network == ipaddress.ip_network("10.91.0.0/24")
        assert leases(leases_dir, "lcpodman") == []  # podman DELeted it after the run
    finally:
        podman.close()
