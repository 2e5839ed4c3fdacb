"""cffi builder (out-of-line API mode) for libcontainer_py._lcnative."""

from __future__ import annotations

import os
import re

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))


def _cdef_from_header(header: str = "lc_native.h") -> str:
    """The header as cffi's cdef takes it: no comments, no preprocessor lines
    but its object-like ``#define LC_*`` constants, and the ops of the
    ``LC_OPS`` list (an X-macro, which cdef cannot expand) as ``LC_OP_*``
    constants in place of the ``enum lc_op`` made from it."""
    with open(os.path.join(HERE, header), encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S).replace("\\\n", " ")
    lines = []
    for line in text.splitlines():
        if line.startswith("#define LC_OPS("):
            lines.extend(f"#define LC_OP_{name} ..." for name in re.findall(r"\bX\((\w+),", line))
        elif re.match(r"#define LC_\w+\s", line) and not line.startswith("#define LC_NATIVE_H"):
            lines.append(f"#define {line.split()[1]} ...")
        elif not line.startswith("#") and "LC_OPS(" not in line:
            lines.append(line)
    return "\n".join(lines)


ffibuilder = FFI()
ffibuilder.cdef(_cdef_from_header())
ffibuilder.cdef(_cdef_from_header("unpack_files.h"))  # the image store's, not the executor's
ffibuilder.cdef(_cdef_from_header("tar_header.h"))
ffibuilder.set_source(
    "libcontainer_py._lcnative",
    '#include "lc_native.h"\n#include "unpack_files.h"\n#include "tar_header.h"',
    sources=[
        os.path.relpath(os.path.join(HERE, name))
        for name in (
            "executor.c",
            "child_report.c",
            "child_paths.c",
            "child_mounts.c",
            "child_copyup.c",
            "child_hostfs.c",
            "child_ops.c",
            "child_security.c",
            "child_process.c",
            "serve.c",
            "serve_files.c",
            "syscalls.c",
            "unpack_files.c",
            "tar_header.c",
        )
    ],
    include_dirs=[os.path.relpath(HERE)],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-strict-aliasing"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
