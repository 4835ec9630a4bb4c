"""The daemon's Disconnect/CoA sender for the API's routes (and the web console's)."""

from __future__ import annotations

from typing import Any

from radiusd.coa.service import CoaService


def daemon_coa(state: Any) -> CoaService:
    """A CoaService of the running daemon ``state``: its RadSec connections carry the requests
    for a RadSec NAS (docs/radsec.md), its counters see every result
    (radiusd_coa_requests_total)."""
    return CoaService(
        state.engine,
        timeout=state.settings.coa_timeout,
        radsec=getattr(state, "radsec", None),
        udp_fallback=state.settings.radsec_coa_udp_fallback,
        observe=state.stats.coa_result,
    )
