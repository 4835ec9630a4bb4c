"""Errors the store raises to its callers (CLI, admin API, daemon).

Messages are one line, name the offending value so an operator can fix the input, and never
carry a secret or a credential: they end up on terminals and in logs.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class: something the caller asked of the store could not be done."""


class NotFound(StoreError):
    """The named NAS, plan or subscriber does not exist."""


class Conflict(StoreError):
    """The write would break a uniqueness rule (duplicate name or address) or a reference."""


class InvalidInput(StoreError):
    """The input is malformed (bad IP, unknown plan, bad status, ...); nothing was written."""
