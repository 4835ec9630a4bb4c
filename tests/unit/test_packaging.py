"""Reproducible installs: bounded dependency ranges, a pin for each dependency, a pinned image."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [*project["dependencies"], *extras]


def test_every_dependency_has_an_upper_bound() -> None:
    unbounded = [r for r in requirements() if "<" not in r.split(";")[0]]
    assert unbounded == [], "add an upper bound (the next major version) to these"


def test_every_dependency_is_pinned_in_constraints() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[normalise(name)] = version
    named = {normalise(re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0]) for r in requirements()}
    missing = sorted(named - pins.keys())
    assert missing == [], f"not in constraints.txt: {missing}; run bash scripts/constraints.sh"


def test_python_versions_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11,<3.14"
    versions = {c.rsplit(" ", 1)[-1] for c in project["classifiers"] if "Python :: 3." in c}
    assert versions == {"3.11", "3.12", "3.13"}


def test_docker_image_installs_the_wheel_on_a_pinned_base() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base is not None and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+", base.group(1))
    assert re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert "pip wheel" in dockerfile and "-c /tmp/constraints.txt /tmp/dist/radiusd-" in dockerfile
    assert "-e ." not in dockerfile
