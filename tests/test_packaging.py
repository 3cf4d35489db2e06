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
