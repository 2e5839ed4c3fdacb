"""``python -m libcontainer_py``: the runc-compatible command line."""

from libcontainer_py.cli import run_main

if __name__ == "__main__":
    run_main()
