"""The page's message catalogs: every text the pages use exists in English, German, French and Italian."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).parents[2] / "platemark" / "web" / "static"
CATALOGS = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in (STATIC / "locales").glob("*.json")}


def keys_used() -> tuple[set[str], set[str]]:
    """Message keys the scripts and pages name: exact keys, and prefixes of keys built at run time."""
    exact, prefixes = set(), set()
    for script in STATIC.glob("*.js"):
        for key in re.findall(r"""\bt\(\s*["`]([^"`]+)["`]""", script.read_text()):
            (prefixes.add(key.split("${")[0]) if "${" in key else exact.add(key))
        exact |= set(re.findall(r"""\[\s*"[^"]*",\s*"(nav\.[a-z_]+)\"""", script.read_text()))
    for page in STATIC.glob("*.html"):
        exact |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', page.read_text()))
    return exact, prefixes


def test_the_four_languages_are_there() -> None:
    assert set(CATALOGS) == {"en", "de", "fr", "it"}


@pytest.mark.parametrize("language", ["de", "fr", "it"])
def test_every_language_has_every_message_with_the_same_placeholders(language: str) -> None:
    english, other = CATALOGS["en"], CATALOGS[language]
    assert set(other) == set(english)
    for key, text in english.items():
        forms = text.values() if isinstance(text, dict) else [text]
        translated = other[key].values() if isinstance(other[key], dict) else [other[key]]
        wanted = set().union(*(re.findall(r"\{(\w+)\}", f) for f in forms))
        given = set().union(*(re.findall(r"\{(\w+)\}", f) for f in translated))
        assert given <= wanted and (given or not wanted), (key, wanted, given)


def test_every_key_the_pages_use_is_in_the_catalog() -> None:
    exact, prefixes = keys_used()
    assert len(exact) > 100
    assert exact - set(CATALOGS["en"]) == set()
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in CATALOGS["en"]), prefix


def test_no_message_goes_unused() -> None:
    exact, prefixes = keys_used()
    unused = {key for key in CATALOGS["en"] if key not in exact and not key.startswith(tuple(prefixes))}
    assert unused == set()
