"""SessionReloadOp on PostgreSQL: it reads sessions back only once the lost transaction is over.

After a COMMIT whose connection dropped, the daemon rereads the batch's sessions. If the old
backend were still carrying that COMMIT out, a read now could miss its rows; txid_status() of
the batch's transaction id (returned by the accounting batch statement) says so, and the read
waits ("settled" False). A transaction left open here plays the lost one.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from radiusd.store.accounting_ops import SessionReloadOp
from radiusd.store.engine import create_engine, ensure_schema

T = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


async def reload(engine: AsyncEngine, uids: list[str], xids: list[int]) -> SessionReloadOp:
    op = SessionReloadOp(uids, xids)
    async with engine.begin() as conn:
        await SessionReloadOp.apply_batch(conn, [op])
    return op


async def test_reload_waits_for_a_transaction_still_in_progress(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        await ensure_schema(engine)
        async with engine.connect() as lost:
            await lost.execute(
                sa.text(
                    "INSERT INTO radius_sessions (acct_unique_id, acct_session_id, username, nas_address, "
                    "started_at, updated_at, session_time, input_octets, output_octets, input_packets, "
                    "output_packets, input_base, output_base, status) "
                    "VALUES ('u1', 's1', 'alice', '192.0.2.1', :t, :t, 60, 1000, 0, 0, 0, 0, 0, 'open')"
                ),
                {"t": T},
            )
            xid = int((await lost.execute(sa.text("SELECT txid_current()"))).scalar_one())
            waiting = await reload(engine, ["u1"], [xid])
            assert not waiting.settled and waiting.found == []  # in progress: nothing read
            await lost.commit()
        done = await reload(engine, ["u1", "u2"], [xid])
        assert done.settled
        assert [(s.unique_id, s.input_octets, s.session_time) for s in done.found] == [("u1", 1000, 60)]
        assert (await reload(engine, ["u2"], [])).settled  # no transaction to ask about
    finally:
        await engine.dispose()
