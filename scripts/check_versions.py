#!/usr/bin/env python3
"""One version number across every package flagwire ships: the crate, the Go module, the gem, the
jar, the wheel and the npm package (and the constants the bindings report). Exits 1 naming each
file that disagrees with Cargo.toml. --print: print the version when they all agree.
Run by scripts/test-all.sh and scripts/package.sh."""

import json
import re
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def toml(path, *keys):
    value = tomllib.loads((ROOT / path).read_text())
    for key in keys:
        value = value[key]
    return value


def pattern(path, regex):
    m = re.search(regex, (ROOT / path).read_text(), re.MULTILINE)
    return m.group(1) if m else None


def pom_version(path):
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    return ET.parse(ROOT / path).getroot().findtext("m:version", namespaces=ns)


def package_json(path, *keys):
    value = json.loads((ROOT / path).read_text())
    for key in keys:
        value = value[key]
    return value


# (where, how it is read): each must equal the crate's version.
SOURCES = {
    "bindings/go/flagwire/version.go (ModuleVersion)":
        lambda: pattern("bindings/go/flagwire/version.go", r'^const ModuleVersion = "([^"]+)"'),
    "bindings/ruby/lib/flagwire/version.rb (VERSION)":
        lambda: pattern("bindings/ruby/lib/flagwire/version.rb", r'^\s*VERSION = "([^"]+)"'),
    "bindings/java/pom.xml (project.version)":
        lambda: pom_version("bindings/java/pom.xml"),
    "bindings/java/bench/pom.xml (project.version)":
        lambda: pom_version("bindings/java/bench/pom.xml"),
    "bindings/java/src/main/java/dev/flagwire/Flagwire.java (BINDING_VERSION)":
        lambda: pattern("bindings/java/src/main/java/dev/flagwire/Flagwire.java",
                        r'BINDING_VERSION = "([^"]+)"'),
    "bindings/python/pyproject.toml (project.version)":
        lambda: toml("bindings/python/pyproject.toml", "project", "version"),
    "bindings/python/src/flagwire/__init__.py (__version__)":
        lambda: pattern("bindings/python/src/flagwire/__init__.py", r'^__version__ = "([^"]+)"'),
    "bindings/node/package.json (version)":
        lambda: package_json("bindings/node/package.json", "version"),
    "bindings/node/package-lock.json (packages[''].version)":
        lambda: package_json("bindings/node/package-lock.json", "packages", "", "version"),
}


def main():
    expected = toml("Cargo.toml", "package", "version")
    wrong = []
    for where, read in SOURCES.items():
        try:
            found = read()
        except (OSError, KeyError, ValueError, ET.ParseError) as e:
            found = f"unreadable ({e})"
        if found != expected:
            wrong.append(f"  {where}: {found!r}")
    if wrong:
        print(f"check_versions: Cargo.toml says {expected!r}; these differ:", *wrong, sep="\n", file=sys.stderr)
        return 1
    if "--print" in sys.argv[1:]:
        print(expected)
    else:
        print(f"check_versions: {expected} in Cargo.toml and {len(SOURCES)} package files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
