from __future__ import annotations

from pathlib import Path

import click
import pytest

from platemark.cli import cli

README = (Path(__file__).parent.parent / "README.md").read_text()


def _commands() -> list[tuple[str, click.Command]]:
    """Every command by its full name (`feedback export`), groups' subcommands included."""
    found = []
    for name, command in sorted(cli.commands.items()):
        subcommands = getattr(command, "commands", {})
        found += [(f"{name} {sub}", subcommands[sub]) for sub in sorted(subcommands)] or [(name, command)]
    return found


@pytest.mark.parametrize(("name", "command"), _commands(), ids=[name for name, _ in _commands()])
def test_every_command_is_in_the_readme_and_has_an_example(name: str, command: click.Command) -> None:
    assert f"platemark {name}" in README
    assert "Example:" in (command.help or "")


def test_every_setting_is_in_the_readme() -> None:
    from platemark.settings import Settings

    for name in Settings.model_fields:
        assert f"PLATEMARK_{name.upper()}" in README, name


def test_every_plugin_hook_and_source_kind_is_in_the_readme() -> None:
    from platemark import hookspecs
    from platemark.ingest.sources.base import source_kinds

    hooks = [name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "platemark_spec")]
    assert hooks
    for name in hooks:
        assert f"`{name}`" in README, name
    for kind in source_kinds():
        assert f"`{kind.kind}`" in README, kind.kind
