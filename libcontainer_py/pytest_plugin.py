"""pytest plugin (entry point ``pytest11``): tests run in fresh containers.

Only what is asked for changes: a test marked ``@pytest.mark.container(...)``
(memory, cpu, pids, network, timeout, image, rootfs, python), or every test with
``--lc-isolate``, runs through ``lc.call``: its fixtures are set up here and
passed to it pickled; a crash or a hang (``timeout``, ``--lc-timeout``) fails
that test with its reason and the run goes on.  Each isolated test's CPU
time, peak memory and wall time are in its report's ``user_properties``
(``lc_cpu_time``, ``lc_peak_memory``, ``lc_wall_time``).
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Optional

import pytest

#: What the ``container`` marker takes.
MARKER_ARGS = ("memory", "cpu", "pids", "network", "timeout", "image", "rootfs", "python")


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("libcontainer_py", "tests in containers (libcontainer_py)")
    group.addoption(
        "--lc-isolate", action="store_true", default=False, help="run every test in a fresh container (lc.call)"
    )
    group.addoption(
        "--lc-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time limit of each test run in a container; then its container is killed and the test fails",
    )


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers",
        "container(memory=None, cpu=None, pids=None, network=False, timeout=None, image=None, rootfs=None, "
        "python=None): "
        "run the test in a fresh container (libcontainer_py)",
    )


def container_config(options: Dict[str, Any]) -> Any:
    """The Config of a ``container`` marker's options (ConfigError for bad ones)."""
    import attrs

    from .cgroups import CgroupConfig, Memory, Pids
    from .config import Config
    from .errors import ConfigError
    from .images import ImageStore
    from .rootfs import Rootfs

    unknown = sorted(set(options) - set(MARKER_ARGS))
    if unknown:
        raise ConfigError("container", f"unknown marker options {unknown}; known: {', '.join(MARKER_ARGS)}")
    if options.get("image") is not None and options.get("rootfs") is not None:
        raise ConfigError("container", "image and rootfs are exclusive")
    if options.get("image") is not None:
        config = Config.from_image(ImageStore(), options["image"])
    elif options.get("rootfs") is not None:
        config = Config(rootfs=Rootfs.directory(str(options["rootfs"])))
    else:
        config = Config()
    cgroup = config.cgroup or CgroupConfig()
    changes: Dict[str, Any] = {}
    if options.get("memory") is not None:
        changes["memory"] = Memory(max=options["memory"])
    if options.get("pids") is not None:
        changes["pids"] = Pids(max=options["pids"])
    if options.get("cpu") is not None:
        changes["cpu"] = _cpu(options["cpu"])
    config = config.evolve(cgroup=attrs.evolve(cgroup, **changes))
    network = options.get("network", False)
    if not isinstance(network, bool):
        raise ConfigError("container.network", f"must be True (the host's network) or False, got {network!r}")
    if network:
        config = config.evolve(namespaces=attrs.evolve(config.namespaces, net=False))
    return config


def _cpu(cpus: Any) -> Any:
    from .cgroups import Cpu
    from .errors import ConfigError

    if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or cpus <= 0:
        raise ConfigError("container.cpu", f"must be a positive number of CPUs, got {cpus!r}")
    period = 100_000
    return Cpu(quota_us=int(cpus * period), period_us=period)


def _timeout(item: Any, options: Dict[str, Any]) -> Optional[float]:
    value = options.get("timeout")
    return float(value) if value is not None else item.config.getoption("lc_timeout")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: Any) -> Optional[bool]:
    marker = pyfuncitem.get_closest_marker("container")
    if marker is None and not pyfuncitem.config.getoption("lc_isolate"):
        return None
    from ._call import call_with_stats

    options = dict(marker.kwargs) if marker is not None else {}
    function = pyfuncitem.obj
    if inspect.iscoroutinefunction(function):
        pytest.fail("an async test cannot run in a container (lc.call runs plain functions)", pytrace=False)
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    call_with_stats(
        function,
        (),
        kwargs,
        config=container_config(options),
        timeout=_timeout(pyfuncitem, options),
        python=options.get("python"),
        on_stats=lambda figures: _record(pyfuncitem, figures),
    )
    return True


def _record(item: Any, figures: Any) -> None:
    item.user_properties.extend(
        [
            ("lc_cpu_time", figures.cpu_time),
            ("lc_peak_memory", figures.peak_memory),
            ("lc_wall_time", figures.wall_time),
        ]
    )
