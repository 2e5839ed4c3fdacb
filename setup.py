from setuptools import setup

setup(
    cffi_modules=["_native/build.py:ffibuilder", "_native/build_seccomp.py:ffibuilder"],
)
