"""The plugin manager: built-in modules and installed plugins register through the same hooks.

An installed package joins by declaring an entry point in the `platemark` group. Entry points are
not loaded while the test suite runs (it sets `sys._called_from_test`), so tests see only what
they register themselves.
"""

from __future__ import annotations

import importlib
import sys

import pluggy

from platemark import hookspecs

#: Built-in modules that implement hooks, in the order their contributions are tried (after
#: installed plugins', so that a plugin can read a location a built-in would also claim).
DEFAULT_PLUGINS = (
    "platemark.ingest.sources.folder",
    "platemark.ingest.sources.iiif",
    "platemark.ingest.sources.url_csv",
)

pm = pluggy.PluginManager("platemark")
pm.add_hookspecs(hookspecs)
for _name in reversed(DEFAULT_PLUGINS):  # pluggy calls the last registered first
    pm.register(importlib.import_module(_name), _name)
if not getattr(sys, "_called_from_test", False):
    pm.load_setuptools_entrypoints("platemark")  # registered last, so asked first: a plugin may take over
