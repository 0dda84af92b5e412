"""Release files (issue 16, item 8): what a wheel, an sdist and a checkout promise users."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from example_project.demo.howto import howto

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def _tox_matrix() -> set[tuple[str, str]]:
    """(python, django) of each tox env, e.g. ``py312-dj60`` -> ("3.12", "6.0")."""
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    envs = tox["tox"]["env_list"].split()
    matrix = set()
    for env in envs:
        found = re.fullmatch(r"py3(\d+)-dj(\d)(\d+)", env)
        assert found, env
        matrix.add((f"3.{found[1]}", f"{found[2]}.{found[3]}"))
    return matrix


def test_classifiers_name_each_python_and_django_that_tox_tests():
    classifiers = set(PROJECT["classifiers"])
    matrix = _tox_matrix()
    assert matrix, "tox.ini lists no env"
    for python, django in matrix:
        assert f"Programming Language :: Python :: {python}" in classifiers
        assert f"Framework :: Django :: {django}" in classifiers
    assert "Framework :: Django :: 6.1" in classifiers


def test_classified_pythons_are_the_tested_ones_and_requires_python_admits_them():
    tested = {python for python, _ in _tox_matrix()}
    classified = {c.rsplit(" :: ", 1)[1] for c in PROJECT["classifiers"]
                  if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert classified == tested
    lowest = min(tested, key=lambda v: int(v.split(".")[1]))
    assert PROJECT["requires-python"] == f">={lowest}"


def test_license_is_the_mit_text_and_ships_in_wheel_and_sdist():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert PROJECT["license"] == "MIT"
    assert "LICENSE" in PROJECT["license-files"]  # the wheel's .dist-info/licenses/
    sdist = PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    for name in ("LICENSE", "CHANGELOG.md", "SECURITY.md"):
        assert name in sdist
        assert (ROOT / name).is_file()


def test_security_policy_says_how_to_report_and_which_versions_are_supported():
    text = (ROOT / "SECURITY.md").read_text()
    assert "## Supported versions" in text
    assert "## Reporting a vulnerability" in text
    for python, django in _tox_matrix():
        assert python in text and django in text


def test_readme_install_line_does_not_name_a_release_that_is_not_published():
    # No version is on a registry yet: the Quick start installs from a checkout or a wheel.
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in quick_start.splitlines()
                if line.lstrip().startswith("pip install")]
    assert commands
    for command in commands:
        assert not re.fullmatch(r'pip install "?django-dualauth(\[[a-z,]+\])?"?', command), command


def test_demo_examples_name_the_port_the_demo_serves_on():
    text = howto(18001)
    assert "127.0.0.1:18001/auth/login" in text
    assert "Origin: http://127.0.0.1:18001" in text
    assert "8000" not in text
    assert "127.0.0.1:8000/auth/login" in howto()


def test_python_version_file_is_ignored():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".python-version" in ignored


def test_the_wheel_ships_the_browser_client_and_its_types(tmp_path: Path) -> None:
    """The static files (django_dualauth/static/dualauth/) are package data: a wheel built from
    this checkout carries them where ``staticfiles`` finds them, and no test or project file."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("django_dualauth-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in ("dualauth.js", "dualauth.d.ts"):
            path = f"django_dualauth/static/dualauth/{name}"
            assert path in names
            assert archive.read(path) == (ROOT / path).read_bytes()
    assert "django_dualauth/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "example_project/", "docs/")) or "node_modules" in n]
