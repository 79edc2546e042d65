"""The library as loaded: the status table against the header, the ABI check, load errors."""

import re
import shutil
import subprocess
import sys

import pytest

import flagwire
from flagwire.errors import Status

from conftest import HEADER


def header_statuses():
    text = HEADER.read_text()
    return {name: int(value) for name, value in re.findall(r"FLAGWIRE_STATUS_([A-Z0-9_]+) = (\d+)", text)}


def test_status_table_matches_the_header():
    in_header = header_statuses()
    assert len(in_header) >= 14, "the header's FlagwireStatus enum was not found"
    assert {s.name: s.value for s in Status} == in_header


def test_abi_and_versions():
    abi = int(re.search(r"#define FLAGWIRE_ABI_VERSION (\d+)", HEADER.read_text()).group(1))
    assert flagwire.ABI_VERSION == abi == flagwire.abi_version() == 2
    assert flagwire.version() == flagwire.__version__ == "0.2.0"


def import_with_library(path):
    return subprocess.run(
        [sys.executable, "-c", "import flagwire"],
        env={"FLAGWIRE_LIB": str(path), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build a library of another ABI")
def test_a_library_of_another_abi_is_refused_at_import(tmp_path):
    source = tmp_path / "abi1.c"
    source.write_text("unsigned int flagwire_abi_version(void) { return 1; }\n")
    lib = tmp_path / "libflagwire.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(source)], check=True)
    proc = import_with_library(lib)
    assert proc.returncode != 0
    assert "flagwire.errors.LibraryError" in proc.stderr
    assert "implements C ABI version 1, but this package (flagwire for Python) needs version 2" in proc.stderr


def test_a_missing_library_is_a_clear_error(tmp_path):
    proc = import_with_library(tmp_path / "nowhere" / "libflagwire.so")
    assert proc.returncode != 0
    assert "LibraryError: flagwire: cannot load the native library" in proc.stderr
    assert str(tmp_path / "nowhere" / "libflagwire.so") in proc.stderr
