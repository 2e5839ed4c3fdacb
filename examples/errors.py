"""The typed errors: what each one carries and when it is raised.

    python3 examples/errors.py        (as root)

Every exception is a lc.ContainerError.  A ConfigError comes from building the
config, before any process exists.  A failure inside the container's set-up
(after clone, before execve) is a StepError subclass naming the step, the
path and the errno; the child has been reaped by the time it is raised.
"""

import errno
import sys

import libcontainer_py as lc


def show(exc):
    print(f"  {type(exc).__name__}: {exc}")
    if isinstance(exc, lc.ConfigError):
        print(f"    field={exc.field!r}")
    elif isinstance(exc, lc.StepError):
        print(f"    step={exc.step!r} index={exc.index} path={exc.path!r}")
        print(f"    errno={errno.errorcode[exc.errno]} detail={exc.detail!r}")
        print(f"    container_id={exc.container_id!r}")
        print(f"    __cause__: {type(exc.__cause__).__name__}: {exc.__cause__}")


def expect(error_class, what, action):
    print(f"\n{what}")
    try:
        action()
    except error_class as exc:
        show(exc)
        return exc
    raise SystemExit(f"expected {error_class.__name__}, got no error")


def main():
    # 1. Invalid configuration: raised by the config class itself.
    expect(
        lc.ConfigError, "a relative working directory:", lambda: lc.Config(process=lc.Process(args=["pwd"], cwd="tmp"))
    )

    # 2. The program does not exist: execve fails in the container.
    exc = expect(lc.ExecError, "a program that does not exist:", lambda: lc.run(["/no/such/program"]))
    assert exc.errno == errno.ENOENT and exc.path == "/no/such/program"

    # 3. A bind mount whose source does not exist: mount(2) fails in the container.
    config = lc.Config(mounts=lc.Mounts.default() + [lc.Mount.bind("/no/such/dir", "/data")])
    exc = expect(lc.MountError, "a bind mount of a missing host directory:", lambda: lc.run(["true"], config=config))
    assert exc.errno == errno.ENOENT and exc.path == "/data"

    # All of them are ContainerErrors; ConfigError is also a ValueError.
    assert issubclass(lc.ConfigError, ValueError)
    assert issubclass(lc.ExecError, lc.StepError) and issubclass(lc.MountError, lc.ContainerError)

    # The process's own failure is not a set-up error: check=True raises
    # ProcessExitError (a subprocess.CalledProcessError).
    expect(
        lc.ProcessExitError,
        "a process that exits with status 3 (check=True):",
        lambda: lc.run(["sh", "-c", "exit 3"], check=True),
    )
    print("\nevery error was raised as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
