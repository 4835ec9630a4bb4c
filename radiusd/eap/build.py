"""Which EAP service an ``[eap]`` table asks for: the engine in the daemon's process, or the
EAP process (radiusd.eap.process) with ``process = true``; and the check ``serve`` runs
before it starts anything."""

from __future__ import annotations

from .engine import EapEngine, EapService
from .process import EapProcess
from .settings import EapSettings, parse_eap


def build_engine(
    section: dict[str, object], log_format: str = "console", log_level: str = "info"
) -> EapService | None:
    """The engine of an ``[eap]`` table (None when there is none): in this process, or a
    process of its own with ``process = true``; ValueError (with the setting or file at
    fault) when it is invalid or a certificate does not load."""
    return engine_for(parse_eap(dict(section)), log_format, log_level)


def engine_for(
    settings: EapSettings, log_format: str = "console", log_level: str = "info"
) -> EapService | None:
    """As :func:`build_engine`, from settings already parsed (SIGHUP has them)."""
    if not settings.enabled:
        return None
    if settings.process:
        return EapProcess(settings, log_format, log_level)
    return EapEngine(settings)


def check_engine(section: dict[str, object]) -> EapSettings:
    """The settings of an ``[eap]`` table, its files loaded once to check them (nothing
    started); ValueError (with the setting or file at fault) when invalid."""
    settings = parse_eap(dict(section))
    settings.check_files()
    return settings
