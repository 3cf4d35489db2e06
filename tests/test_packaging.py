"""What a plain (non-editable) install gets: setuptools finds only folders with an __init__.py."""

from __future__ import annotations

from pathlib import Path

import setuptools

PACKAGE = Path(__file__).parents[1] / "platemark"


def test_every_folder_of_python_modules_is_a_package_a_wheel_includes() -> None:
    found = set(setuptools.find_packages(PACKAGE.parent, include=["platemark*"]))
    folders = {
        ".".join(folder.relative_to(PACKAGE.parent).parts)
        for folder in PACKAGE.rglob("*")
        if folder.is_dir() and any(folder.glob("*.py"))
    }
    assert folders <= found, folders - found


def test_every_file_the_web_app_serves_is_package_data() -> None:
    import fnmatch
    import tomllib

    patterns = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    web = PACKAGE / "web"
    served = [path.relative_to(web).as_posix() for path in (web / "static").rglob("*") if path.is_file()]
    missed = [name for name in served if not any(fnmatch.fnmatch(name, p) for p in patterns["platemark.web"])]
    assert served and not missed, missed
