"""``POST /radius/sessions/{id}/coa``: one open session gets a plan through its NAS's plugin
(a CoA-Request, RFC 5176 §3; a disconnect where the NAS cannot change it live or refuses).

Why a route of its own, next to ``POST /subscribers/{u}/set-plan`` (which CoAs every session
of a subscriber): a process that changed the plan itself, the CLI, must still have the daemon
send the CoA for a session whose NAS is a RadSec client, since only the daemon holds that NAS's
TLS connection (RFC 6614 §2.4; radiusd.cli.coa_relay); it asks for exactly the sessions it
cannot reach, the others it CoAs over UDP itself. Sent by the daemon's CoaService
(radiusd.api.coa: audited in ``coa_audit``, counted, down the RadSec connection), run as a job
like a disconnect (radiusd.api.jobs): ``?wait=`` then 202 and ``GET /radius/coa/{job}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path, Response
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from inventory.actions import apply_plan
from radiusd.coa.service import CoaService
from radiusd.coa.sessions import find_open_session
from radiusd.store.errors import InvalidInput, NotFound
from radiusd.store.plans import get_plan

from . import queries
from .coa import daemon_coa
from .crud import body_config
from .jobs import Job, Jobs, TooManyJobs
from .schemas import (
    DEFAULT_DISCONNECT_WAIT,
    JOB_RESULT_RESPONSES,
    SESSION_ACTION_RESPONSES,
    CoaWait,
    Name,
    Problem,
)


class SessionCoaIn(BaseModel):
    model_config = body_config(plan="silver")

    plan: Name = Field(description="The plan whose attributes the CoA-Request carries (it must exist).")


def install(
    app: FastAPI, state: Any, read: list[Depends], write: list[Depends], jobs: Jobs,
    reply: Callable[[Job], Response],
) -> None:  # fmt: skip
    """Add ``POST /radius/sessions/{id}/coa`` and ``GET /radius/coa/{job}``; ``reply`` makes
    a job's answer (202 while pending, then 200 / 409 / 502 as a disconnect's)."""
    services: list[CoaService] = []

    async def send(key: str, plan_name: str) -> dict[str, Any]:
        if not services:
            services.append(daemon_coa(state))
        ref = await find_open_session(state.engine, key)
        plan = await get_plan(state.engine, plan_name)
        [action] = await apply_plan(state.engine, [ref], plan, services[0])
        return action.to_json()

    @app.post(
        "/radius/sessions/{session_id}/coa",
        tags=["radius"],
        dependencies=write,
        responses=SESSION_ACTION_RESPONSES
        | {422: {"model": Problem, "description": "No such plan, or a malformed body"}},
    )
    async def coa_session(
        session_id: Annotated[Name, Path(description="Session id or Acct-Unique-Session-Id.")],
        body: SessionCoaIn,
        wait: CoaWait = DEFAULT_DISCONNECT_WAIT,
    ) -> Response:
        """Send a CoA-Request (RFC 5176) with ``plan``'s attributes for an open session through
        its NAS's plugin; where the NAS cannot change the plan live, or refuses the CoA (other
        than Error-Cause 503), the session is disconnected instead (``action`` ``disconnect``,
        ``fallback`` says why) so the plan applies at its next login. The subscriber's stored
        plan is not changed (``POST /subscribers/{u}/set-plan`` does both)."""
        found = await queries.open_session(state.engine, session_id)
        try:
            await get_plan(state.engine, body.plan)
        except NotFound:
            raise InvalidInput(f"no plan named {body.plan!r}") from None
        try:
            job = jobs.start(send(str(found["id"]), body.plan), session_id, kind="coa")
        except TooManyJobs as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
        await job.wait(wait)
        return reply(job)

    @app.get("/radius/coa/{job_id}", tags=["radius"], dependencies=read, responses=JOB_RESULT_RESPONSES)
    async def coa_result(
        job_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9A-Za-z_-]+$")],
    ) -> Response:
        """The result of a CoA started with ``POST /radius/sessions/{id}/coa``."""
        job = jobs.get(job_id, kind="coa")
        if job is None:
            raise NotFound(f"no CoA job {job_id!r}")
        return reply(job)
