"""Router plugins by name, from the ``radiusd.plugins`` entry point group.

Our own (generic, mikrotik, cisco, ubiquiti) are declared in pyproject.toml like any third
party's would be::

    [project.entry-points."radiusd.plugins"]
    myvendor = "mypackage.plugin:Plugin"

A plugin class is called as ``Plugin(nas, coa_service)`` and must satisfy
:class:`inventory.plugins.base.RouterPlugin`. A NAS is served by the plugin named like its
``vendor`` column.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from radiusd.coa.service import CoaService
from radiusd.store.records import NasRecord

from .base import PluginError, RouterPlugin

GROUP = "radiusd.plugins"


def plugin_names() -> list[str]:
    """Names of every installed plugin, sorted."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def plugin_class(name: str) -> Any:
    """The plugin class registered as ``name``; PluginError when none is."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        known = ", ".join(plugin_names()) or "none (is radiusd installed? pip install -e .)"
        raise PluginError(f"no router plugin named {name!r} (installed: {known})")
    try:
        return found[0].load()
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"router plugin {name!r} cannot be loaded: {exc}") from None


def plugin_for(nas: NasRecord, coa: CoaService) -> RouterPlugin:
    """The plugin serving ``nas`` (by its vendor), bound to it."""
    plugin = plugin_class(nas.vendor)(nas, coa)
    if not isinstance(plugin, RouterPlugin):
        raise PluginError(f"router plugin {nas.vendor!r} does not implement RouterPlugin")
    return plugin
