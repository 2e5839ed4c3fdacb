"""A runc-compatible command line: ``libcontainer-py [global flags] COMMAND``.

Each command lives in a small module imported only when that command runs,
so that ``state``, ``list`` and ``kill`` start fast.  Errors are reported as
runc reports them: a log record (text or JSON) on ``--log`` or stderr, the
plain message on stderr when the log goes elsewhere, and exit status 1.
"""

from __future__ import annotations

import os
import sys

from .._statedir import DEFAULT_ROOT as DEFAULT_ROOT
from ._commands import COMMANDS as COMMANDS
from ._errors import CliError as CliError

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import List, Optional

    from ._argv import Args


def parse_args(argv: List[str]) -> Args | int:
    """The parsed command line, or the exit status of a usage error (1, as
    runc), of ``--help`` (0)."""
    from . import _argv

    args = _argv.parse(argv)  # the plain lines engines use, without argparse
    if args is not None:
        return args
    from . import _parser

    command = _parser.command_of(argv)
    try:
        parser = _parser.build(command)
        if command in _parser.REFUSED:  # any flags: the refusal, not a usage error, is the answer
            namespace = parser.parse_known_args(argv)[0]
        else:
            namespace = parser.parse_args(argv)
    except SystemExit as exc:  # argparse's usage errors exit 2; runc's exit 1
        return 1 if exc.code == 2 else int(exc.code or 0)
    return _argv.Args(vars(namespace))


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command; returns the exit status (errors: 1, as runc)."""
    from ._log import Logger

    parsed = parse_args(sys.argv[1:] if argv is None else argv)
    if isinstance(parsed, int):
        return parsed
    args = parsed
    log = Logger(args.log, args.log_format, args.debug)
    if args.version:
        from .. import __version__

        print(f"libcontainer-py version {__version__}")
        return 0
    if args.command is None:
        from . import _parser

        _parser.build().print_help()
        return 0
    try:
        if args.systemd_cgroup:
            raise CliError("--systemd-cgroup is not supported: libcontainer-py manages cgroups through cgroupfs only")
        module, _ = COMMANDS[args.command]
        func = f"cmd_{args.command}"
        log.debug(f"command {args.command}")
        fn = getattr(__import__(f"{__name__}.{module}", fromlist=[func]), func)
        status = int(fn(args, log) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): quiet, as SIGPIPE would be
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141
    except CliError as exc:
        log.fatal(str(exc))
        return exc.code
    except Exception as exc:  # every library error ends as runc's do: a message, status 1
        if args.debug:
            import traceback

            log.debug(traceback.format_exc())
        log.fatal(str(exc) or type(exc).__name__)
        return 1


def run_main() -> None:
    """The console script's entry point.

    Ends with os._exit once stdout and stderr are flushed: tearing down the
    interpreter (the config model's classes, every module) would add ~9 ms
    to ``create``, and a command leaves nothing that needs it (no threads,
    no atexit work; files are closed as they are used)."""
    status = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        status = status or 141
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(status)
