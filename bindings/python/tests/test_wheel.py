"""The package under test is the installed wheel: its library is the bundled one, and the wheel's
platform tag is true for that library."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import flagwire


def test_imported_from_the_installed_wheel_with_its_bundled_library():
    package = Path(flagwire.__file__).resolve().parent
    assert package.parent == Path(sysconfig.get_paths()["platlib"]).resolve()
    assert "FLAGWIRE_LIB" not in os.environ
    assert Path(flagwire.library_path()) == package / "linux-x86_64" / "libflagwire.so"
    assert (package / "py.typed").exists()


@pytest.mark.skipif(not os.environ.get("FLAGWIRE_WHEEL"), reason="test.sh passes the wheel it built")
def test_the_wheel_tag_is_true_for_the_library():
    wheel = Path(os.environ["FLAGWIRE_WHEEL"])
    _name, _version, python, abi, platform = wheel.stem.split("-")
    assert (python, abi) == ("py3", "none")
    assert platform.startswith("manylinux_") and platform.endswith("_x86_64")
    shown = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    # auditwheel's verdict: the newest tag the library's symbols and dependencies allow.
    assert f'is consistent with the following platform tag: "{platform}"' in text
