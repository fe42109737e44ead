"""Installs the onyx Python package: `pip install ./python` from the
repository root (into a virtual environment on Debian, whose system Python is
externally managed: python3 -m venv --system-site-packages .venv).

The extension module is built by the project's own CMake build (the same
flags, providers and dependencies as the library), into a build folder of its
own, without the test-only simulated device; the .py files are installed as
they are. It needs what `make build` needs: run scripts/install-deps.sh first
(it installs python3-dev and python3-numpy too).
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def version():
    with open(os.path.join(ROOT, "include", "onyx.h")) as f:
        for line in f:
            if line.startswith("#define ONYX_VERSION_STRING"):
                return line.split('"')[1]
    raise RuntimeError("ONYX_VERSION_STRING not found in include/onyx.h")


class CMakeBuild(build_ext):
    """Builds onyx._onyx with CMake instead of compiling sources itself."""

    def build_extension(self, ext):
        build = os.path.join(os.path.abspath(self.build_temp), "cmake")
        os.makedirs(build, exist_ok=True)
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                               "-DONYX_PYTHON=ON", "-DONYX_PYTHON_SIMDEV=OFF",
                               "-DPython3_EXECUTABLE=" + sys.executable])
        subprocess.check_call(["cmake", "--build", build, "--target", "onyx_python", "-j%d" % (os.cpu_count() or 1)])
        built = glob.glob(os.path.join(build, "python", "onyx", "_onyx*.so"))
        if len(built) != 1:
            raise RuntimeError("expected one built extension module, found %r" % built)
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    name="onyx",
    version=version(),
    description="onyx: an ONNX inference runtime with ONNX Runtime's Python API",
    packages=["onyx", "onyx.quantization", "onyx.capi"],
    package_dir={"": os.path.relpath(HERE)},
    ext_modules=[Extension("onyx._onyx", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=["numpy"],
    python_requires=">=3.9",
)
