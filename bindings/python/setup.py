"""Only what pyproject.toml cannot say: the wheel carries a native library but no Python
extension, so it is platform-specific yet tagged py3-none-<platform> (one wheel for every
CPython 3 and PyPy on that platform; the wasmtime-py scheme), not cp3X-cp3X-<platform> nor
py3-none-any. build_wheel.sh passes the platform as --plat-name."""

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel


class NativeLibraryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True  # platform-specific (it carries libflagwire.so): installed as platlib


class NativeLibraryWheel(bdist_wheel):
    def get_tag(self):  # type: ignore[no-untyped-def]
        _python, _abi, plat = super().get_tag()
        return "py3", "none", plat  # no Python extension: any Python 3 ABI


setup(distclass=NativeLibraryDistribution, cmdclass={"bdist_wheel": NativeLibraryWheel})
