"""``radiusd loadtest``: simulated subscribers against any RADIUS server, for capacity planning.

The generator lives in :mod:`radiusd.loadtest` and is imported when the command runs; this
module parses the options, shows the progress line and prints the report (a table, or the
``--json`` object keyed by packet type).
"""

from __future__ import annotations

import random
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from radiusd.cli.output import fail, plural, print_json, print_table

if TYPE_CHECKING:
    from radiusd.loadtest.generator import Engine
    from radiusd.loadtest.stats import RunStats

COLUMNS = (
    "type",
    "requests",
    "requests_per_second",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "timeouts",
    "rejects",
    "retransmissions",
)


def _rate(ctx: click.Context, param: click.Parameter, value: str) -> float | None:
    if value.strip().lower() == "max":
        return None
    try:
        rate = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number of requests/s nor 'max'") from None
    if not rate > 0:
        raise click.BadParameter("must be more than 0 (or 'max')")
    return rate


class Progress:
    """The live line on stderr: rewritten in place on a terminal, else a line a second if asked."""

    def __init__(self, mode: bool | None) -> None:
        self.tty = sys.stderr.isatty()
        self.enabled = self.tty if mode is None else mode
        self.interval = 0.25 if self.tty else 1.0
        self.last_print = 0.0
        self.last_requests = 0
        self.last_time = 0.0
        self.width = 0

    def update(self, totals: tuple[int, int, int, int], elapsed: float) -> None:
        if not self.enabled or elapsed - self.last_print < self.interval:
            return
        requests, responses, timeouts, rejects = totals
        span = elapsed - self.last_time
        rate = (requests - self.last_requests) / span if span > 0 else 0.0
        self.last_print = self.last_time = elapsed
        self.last_requests = requests
        line = (
            f"{elapsed:7.1f} s  requests {requests}  responses {responses}  {rate:,.0f}/s"
            f"  timeouts {timeouts}  rejects {rejects}"
        )
        if self.tty:
            pad = max(0, self.width - len(line))
            self.width = len(line)
            sys.stderr.write("\r" + line + " " * pad)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.tty and self.width:
            sys.stderr.write("\n")
            sys.stderr.flush()


@click.command("loadtest")
@click.option("--server", required=True, metavar="HOST[:PORT]", help="Authentication address (port 1812).")
@click.option("--acct-port", type=click.IntRange(1, 65535), metavar="N", help="Accounting port (PORT+1).")
@click.option("--secret", required=True, envvar="RADIUSD_LOADTEST_SECRET", help="Shared secret.")
@click.option(
    "--users",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE.csv",
    help="Subscribers (columns of 'subscriber import': username,password,...); used in turn.",
)
@click.option("--sessions", type=click.IntRange(1), metavar="N", help="Sessions (default: one per user).")
@click.option(
    "--rate",
    default="max",
    callback=_rate,
    metavar="R|max",
    show_default=True,
    help="Requests per second (all packet types, first transmissions), or as fast as replies come.",
)
@click.option(
    "--auth", "method", type=click.Choice(["pap", "chap", "mschapv2"]), default="pap", show_default=True
)
@click.option("--interims", type=click.IntRange(0), default=1, show_default=True, metavar="K")
@click.option("--timeout", type=click.FloatRange(0.01), default=3.0, show_default=True, help="Seconds.")
@click.option("--retries", type=click.IntRange(0), default=2, show_default=True, help="Retransmissions.")
@click.option(
    "--concurrency", type=click.IntRange(1), default=1024, show_default=True, help="Sessions at once."
)
@click.option("--sockets", type=click.IntRange(1, 1024), metavar="N", help="UDP sockets per port (auto).")
@click.option("--duration", type=click.FloatRange(0.1), metavar="SECONDS", help="Stop starting sessions.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Processes.")
@click.option("--nas-ip", default="127.0.0.1", show_default=True, help="NAS-IP-Address sent.")
@click.option(
    "--no-message-authenticator", is_flag=True, help="Send Access-Requests without Message-Authenticator."
)
@click.option("--progress/--no-progress", default=None, help="Progress line (default: on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def loadtest(
    server: str,
    acct_port: int | None,
    secret: str,
    users: Path,
    sessions: int | None,
    rate: float | None,
    method: str,
    interims: int,
    timeout: float,
    retries: int,
    concurrency: int,
    sockets: int | None,
    duration: float | None,
    workers: int,
    nas_ip: str,
    no_message_authenticator: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Simulate subscribers: Access-Request -> Accounting-Start -> K Interim-Updates -> Stop.

    Ends with latency percentiles, requests/s, timeouts and rejects per packet type.
    """
    from radiusd.loadtest.generator import Interrupted, LoadConfig, run_local, run_workers
    from radiusd.loadtest.sessions import Profile, UsersError, parse_server, read_users

    try:
        auth_addr = parse_server(server)
    except ValueError as exc:
        fail(str(exc))
    try:
        nas = socket.inet_aton(nas_ip)
    except OSError:
        fail(f"--nas-ip {nas_ip!r} is not an IPv4 address")
    try:
        with users.open(encoding="utf-8", newline="") as f:
            user_list = read_users(f)
    except UsersError as exc:
        fail(f"{users}: {exc}")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {users}: {exc}")
    if sessions is None and duration is None:
        sessions = len(user_list)
    per_worker = -(-concurrency // workers)
    config = LoadConfig(
        auth_addr=auth_addr,
        acct_addr=(auth_addr[0], acct_port if acct_port is not None else auth_addr[1] + 1),
        profile=Profile(
            secret=secret.encode(),
            auth=method,
            message_authenticator=not no_message_authenticator,
            interims=interims,
            nas_ip=nas,
            run_id=random.getrandbits(32),
        ),
        users=tuple(user_list),
        sessions=sessions,
        rate=rate,
        timeout=timeout,
        retries=retries,
        sockets=sockets if sockets is not None else max(2, -(-per_worker // 128)),
        concurrency=concurrency,
        duration=duration,
    )
    bar = Progress(progress)
    started = time.monotonic()
    try:
        if workers == 1:

            def tick(engine: Engine) -> None:
                bar.update(engine.totals(), time.monotonic() - started)

            stats = run_local(config, tick)
        else:
            stats = run_workers(config, workers, bar.update)
    except OSError as exc:
        fail(f"cannot send to {server}: {exc.strerror or exc}")
    except (RuntimeError, Interrupted) as exc:
        fail(str(exc))
    finally:
        bar.done()
    report(stats, as_json)


def report(stats: RunStats, as_json: bool) -> None:
    """Print the run's report: the JSON object, or the table and a summary line."""
    data = stats.report()
    notes = report_notes(stats)
    if as_json:
        print_json(data)
        for line in notes:
            click.echo(line, err=True)
        return
    rows: list[dict[str, Any]] = [{"type": name, **values} for name, values in data.items()]
    total = stats.summary()
    rows.append(
        {
            "type": "total",
            "requests": total["requests"],
            "requests_per_second": total["requests_per_second"],
            "timeouts": total["timeouts"],
            "rejects": total["rejects"],
            "retransmissions": total["retransmissions"],
        }
    )
    print_table(rows, COLUMNS, empty="no requests")
    click.echo(
        f"{plural(total['sessions'], 'session')}, {plural(total['requests'], 'request')} "
        f"in {total['elapsed_s']} s"
        f" ({total['requests_per_second']:,.0f} requests/s); bad replies: {total['bad_replies']}"
        + ("; interrupted (requests in flight are in no column)" if total["interrupted"] else "")
    )
    for line in notes:
        click.echo(line)


def report_notes(stats: RunStats) -> list[str]:
    """What the figures mean beyond the table: the reject delay inside the access latency, and
    where the simulated sessions went."""
    total = stats.summary()
    notes = [
        "note: simulated sessions have Acct-Session-Id radiusd-loadtest-...; "
        "`radiusd export` leaves them out unless --include-loadtest"
    ]
    if total["rejects"]:
        notes.insert(
            0,
            f"note: {total['rejects']} Access-Reject(s): their latency includes the server's reject "
            "delay (radiusd: reject_delay, 1 s by default), so the access percentiles are not "
            "processing time; set reject_delay = 0 on a test server to measure it",
        )
    return notes
