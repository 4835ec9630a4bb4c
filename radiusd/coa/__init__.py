"""Dynamic Authorization client (RFC 5176): Disconnect- and CoA-Requests to a NAS, with the
RFC 5080 §2.2.1 retransmission schedule, reply verification and an audit trail."""

from .client import CoaResult, DynamicAuthClient, NasTarget, Outcome, RetransmitPolicy
from .service import CoaService
from .sessions import SessionRef

__all__ = [
    "CoaResult",
    "CoaService",
    "DynamicAuthClient",
    "NasTarget",
    "Outcome",
    "RetransmitPolicy",
    "SessionRef",
]
