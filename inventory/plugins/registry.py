"""Router plugins by name, from the ``radiusd.plugins`` entry point group.

Our own (generic, mikrotik, cisco, ubiquiti, juniper, huawei, nokia, accel-ppp, cambium) are
declared in pyproject.toml like any third party's would be::

    [project.entry-points."radiusd.plugins"]
    myvendor = "mypackage.plugin:Plugin"

They are also known here by name, so an install whose metadata predates a new vendor (an
editable install not reinstalled) still finds it; an entry point of the same name wins.

A plugin class is called as ``Plugin(nas, coa_service)`` and must satisfy
:class:`inventory.plugins.base.RouterPlugin`. A NAS is served by the plugin named like its
``vendor`` column.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points
from typing import Any

from radiusd.coa.service import CoaService
from radiusd.store.records import NasRecord

from .base import PluginError, RouterPlugin

GROUP = "radiusd.plugins"

#: The plugins shipped with radiusd (the same as its entry points), module:class by name.
BUILTIN = {
    "generic": "inventory.plugins.generic:Plugin",
    "mikrotik": "inventory.plugins.mikrotik:Plugin",
    "cisco": "inventory.plugins.cisco:Plugin",
    "ubiquiti": "inventory.plugins.ubiquiti:Plugin",
    "juniper": "inventory.plugins.juniper:Plugin",
    "huawei": "inventory.plugins.huawei:Plugin",
    "nokia": "inventory.plugins.nokia:Plugin",
    "accel-ppp": "inventory.plugins.accel_ppp:Plugin",
    "cambium": "inventory.plugins.cambium:Plugin",
}


def plugin_names() -> list[str]:
    """Names of every installed plugin, sorted."""
    return sorted({ep.name for ep in entry_points(group=GROUP)} | set(BUILTIN))


def plugin_class(name: str) -> Any:
    """The plugin class registered as ``name``; PluginError when none is."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    try:
        if found:
            return found[0].load()
        if name in BUILTIN:
            module, _, attr = BUILTIN[name].partition(":")
            return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"router plugin {name!r} cannot be loaded: {exc}") from None
    known = ", ".join(plugin_names())
    raise PluginError(f"no router plugin named {name!r} (installed: {known})")


@functools.lru_cache(maxsize=4096)
def rate_limit_attributes(vendor: str, rate_limit: str) -> tuple[tuple[str, Any], ...]:
    """A plan's rate limit as the reply attributes of a NAS of ``vendor`` (cached: the
    Access-Accept path asks once per plan and vendor). PluginError for an unknown vendor,
    ValueError for a rate limit the vendor cannot express."""
    render = getattr(plugin_class(vendor), "rate_limit_attributes", None)
    if render is None:  # a third-party plugin written before rates were per vendor
        return ()
    return tuple(render(rate_limit))


def plugin_for(nas: NasRecord, coa: CoaService) -> RouterPlugin:
    """The plugin serving ``nas`` (by its vendor), bound to it."""
    plugin = plugin_class(nas.vendor)(nas, coa)
    if not isinstance(plugin, RouterPlugin):
        raise PluginError(f"router plugin {nas.vendor!r} does not implement RouterPlugin")
    return plugin
