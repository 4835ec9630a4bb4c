"""The seam between the server and the policy: a request in, a reply (or nothing) out.

A handler returns the reply directly when it can decide without waiting (a PAP login
served from memory costs no task and no await), or an awaitable when it must wait (the
group-commit writer, a password hash run off the loop). ``None`` means: send nothing.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from radiusd.model.credentials import Credential
from radiusd.model.request import HandlerResult, NasClient, Request


class Handler(Protocol):
    def handle(self, request: Request) -> HandlerResult: ...


@runtime_checkable
class PlainPapHandler(Handler, Protocol):
    """An Access-Request handler that also serves the dispatcher's PAP fast path
    (radiusd.policy.access.AccessPolicy). Both answers come from the rules of ``handle``;
    None or False means "take the general path"."""

    def plain_pap(self, user: bytes, nas: NasClient) -> tuple[Credential, bytes] | None:
        """The credential and the Access-Accept attributes (on the wire) when a PAP login of
        ``user`` is answered with cached attributes and nothing else; no crypto."""
        ...

    def pap_matches(self, cred: Credential, hidden: bytes, nas: NasClient, authenticator: bytes) -> bool:
        """Whether the hidden User-Password is the credential's password."""
        ...
