"""Extension points. Built-in features register through them exactly as an installed plugin does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from platemark.ingest.sources.base import Source

hookspec = pluggy.HookspecMarker("platemark")
hookimpl = pluggy.HookimplMarker("platemark")


@hookspec
def register_sources() -> list[type[Source]]:
    """Return Source subclasses: kinds of collection source `platemark ingest` can read."""
