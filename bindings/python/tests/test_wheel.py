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


@pytest.mark.skipif(not os.environ.get("FLAGWIRE_WHEEL"), reason="test.sh passes the wheel it built")
def test_the_wheel_installs_and_works_in_a_clean_venv(tmp_path, collector):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # --no-index: the wheel needs nothing but itself.
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check",
                    os.environ["FLAGWIRE_WHEEL"]], check=True, timeout=300)
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert [p for p in listed if not p.startswith(("pip==", "setuptools=="))] == ["flagwire==0.2.0"]
    script = (
        "import sys, flagwire\n"
        "c = flagwire.Client(write_key='k', endpoint=sys.argv[1])\n"
        "assert c.enqueue({'type': 'track', 'userId': 'clean-venv', 'event': 'Installed'})\n"
        "print(flagwire.library_path(), c.close(10))\n"
    )
    out = subprocess.run([str(python), "-c", script, collector.url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    path, closed = out.stdout.split()
    assert path.startswith(str(venv)) and closed == "True"
    assert [m["userId"] for m in collector.messages()] == ["clean-venv"]
