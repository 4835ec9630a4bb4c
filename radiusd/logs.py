"""Logging set-up: structlog events, rendered as JSON or for a console.

Events are key/value pairs (``event="packet.dropped", reason=..., nas=...``) so that an
operator can filter them; nothing that holds a secret is ever passed as a value. Library
loggers keep a NullHandler (the habit of librouteros) and the stdlib root logger is routed
through the same renderer.

Tracebacks never show local variables: a failing request has the recovered password and the
NAS secret in scope, and structlog's default console traceback (rich, ``show_locals``) would
print them. The console format prints a plain traceback; the JSON format logs the exception as
data (type, message and stack frames: file, line, function), without locals.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

#: Keys whose values are masked wherever they appear in an event.
SECRET_KEYS = frozenset({"secret", "password", "user_password", "api_password", "token", "credential"})


def _mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in SECRET_KEYS.intersection(event):
        event[key] = "********"
    return event


def renderers(fmt: str) -> list[Any]:
    """The last processors for ``fmt`` (console | json); no traceback they make shows locals."""
    if fmt == "json":
        exceptions = ExceptionDictTransformer(show_locals=False, use_rich=False)
        return [structlog.processors.ExceptionRenderer(exceptions), structlog.processors.JSONRenderer()]
    return [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]


def configure_logging(fmt: str = "console", level: str = "info", stream: Any = None) -> None:
    """Configure structlog once for the process (``fmt``: console | json)."""
    lvl = _LEVELS.get(level.lower(), logging.INFO)
    out = stream if stream is not None else sys.stderr
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_secrets,
            *renderers(fmt),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        # one write per event, newline included (print() writes the text and the newline
        # apart): the workers of serve --workers N share one stderr, and a line of another
        # worker landing between the two parts would leave two events on one line
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=max(lvl, logging.WARNING), stream=out, format="%(levelname)s %(name)s %(message)s"
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
