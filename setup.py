from setuptools import setup

setup(
    cffi_modules=["_native/build.py:ffibuilder", "_native/build_seccomp.py:ffibuilder"],
    # the extension is built against the limited API (cffi does so by default): one abi3 wheel
    options={"bdist_wheel": {"py_limited_api": "cp39"}},
)
