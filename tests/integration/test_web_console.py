"""The web console (/ui) of ``radiusd serve --api-bind``, over real HTTP on SQLite and
PostgreSQL: login and its cookie, session fixation, CSRF, roles, lockout, the audit log, the
search box (username, address with time, prefix, MAC, NAS port) against sessions made by
real RADIUS packets (radclient), and actions that go to a pyrad NAS stand-in."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import HOST, DaemonProcess, run_radclient
from tests.integration.test_coa_nas import PyradNas
from tests.integration.web_console import (
    ALICE_PASSWORD,
    PASSWORDS,
    SECRET,
    console_url,
    csrf_of,
    free_port,
    login,
    online,
    seed,
    session,
    text_of,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nas() -> Iterator[PyradNas]:
    standin = PyradNas(secret=SECRET.encode())
    yield standin
    standin.close()


@pytest.fixture(scope="module")
def daemon(
    module_db_url: str, daemon_factory: Callable[..., DaemonProcess], nas: PyradNas, radclient: str
) -> DaemonProcess:
    d = daemon_factory(
        module_db_url, args=("--api-bind", f"{HOST}:{free_port()}"), seed=lambda d: seed(d, nas.port)
    )
    online(d, radclient, "alice", ALICE_PASSWORD, "web-s1", "AA-BB-CC-00-11-22", "ether5")
    return d


@pytest.fixture(scope="module")
def base(daemon: DaemonProcess) -> str:
    return console_url(daemon)


def _audit(base: str) -> str:
    with session(base, "root") as admin:
        r = admin.get("/ui/audit")
        assert r.status_code == 200
        return text_of(r.text)


def test_login_cookie_and_pages(base: str) -> None:
    with httpx.Client(base_url=base) as c:
        r = c.get("/ui/dashboard")
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?next=/ui/dashboard")
        login(base, "hd", client=c)
        cookie = next(h for h in c.cookies.jar if h.name == "radiusd_ui")
        raw = [v for k, v in c.get("/ui/login").request.headers.items() if k == "cookie"]
        assert raw
        for path in ("/ui/dashboard", "/ui/subscribers", "/ui/subscribers/alice", "/ui/sessions", "/ui/ipam",
                     "/ui/inventory", "/ui/inventory/site/tower-1", "/ui/inventory/router/lo", "/ui/nas",
                     "/ui/subscribers/alice?days=90"):  # fmt: skip
            r = c.get(path)
            assert r.status_code == 200, (path, r.text[:300])
            assert "script-src 'self'" in r.headers["content-security-policy"]
            assert "hd" in r.text and "helpdesk" in r.text
        assert cookie.path == "/ui" and not cookie.secure
        assert c.get("/ui/audit").status_code == 403  # admin only
        assert c.get("/ui/static/console.js").headers["content-type"].startswith("text/javascript")
        assert c.get("/ui/static/..%2Fauth.py").status_code == 404


def test_set_cookie_flags(base: str) -> None:
    with httpx.Client(base_url=base) as c:
        form = c.get("/ui/login")
        r = c.post(
            "/ui/login", data={"username": "ro", "password": PASSWORDS["ro"], "csrf": csrf_of(form.text)}
        )
        header = r.headers["set-cookie"].lower()
        assert "radiusd_ui=" in header and "httponly" in header and "samesite=strict" in header
        assert "path=/ui" in header


def test_session_fixation_is_refused(base: str) -> None:
    planted = "attacker-chosen-session-value-000000000000"
    with httpx.Client(base_url=base) as c:
        c.cookies.set("radiusd_ui", planted, domain=HOST, path="/ui")
        login(base, "hd", client=c)
        values = [h.value for h in c.cookies.jar if h.name == "radiusd_ui"]
        assert planted not in values and values
        assert c.get("/ui/dashboard").status_code == 200
    with httpx.Client(base_url=base, cookies={"radiusd_ui": planted}) as attacker:
        assert attacker.get("/ui/dashboard").status_code == 303  # the planted value was never a session


def test_login_and_posts_need_csrf(base: str, daemon: DaemonProcess) -> None:
    with httpx.Client(base_url=base) as c:
        r = c.post("/ui/login", data={"username": "hd", "password": PASSWORDS["hd"]})
        assert r.status_code == 403 and "radiusd_ui=" not in r.headers.get("set-cookie", "")
    with session(base, "hd") as c:
        r = c.post("/ui/act", data={"action": "suspend", "user": "bob"})
        assert r.status_code == 403
        r = c.post("/ui/act", data={"action": "suspend", "user": "bob", "csrf": "forged"})
        assert r.status_code == 403
        token = csrf_of(c.get("/ui/subscribers/bob").text)
        r = c.post(
            "/ui/act", data={"action": "suspend", "user": "bob", "csrf": token},
            headers={"Origin": "https://evil.example"},
        )  # fmt: skip
        assert r.status_code == 403
        assert 'class="state active"' in c.get("/ui/subscribers/bob").text  # nothing changed
    assert "suspend bob refused missing or wrong CSRF token" in _audit(base)
    assert "bob" in daemon.cli("subscriber", "show", "bob").stdout


def test_readonly_sees_no_actions_and_is_refused(base: str) -> None:
    with session(base, "ro") as c:
        page = c.get("/ui/subscribers/bob").text
        assert "act-suspend" not in page and "disconnect-selected" not in page and "ro" in page
        assert c.get("/ui/confirm", params={"action": "suspend", "user": "bob"}).status_code == 403
        token = csrf_of(page)  # the logout form's token: valid, but the role is not
        r = c.post("/ui/act", data={"action": "suspend", "user": "bob", "csrf": token})
        assert r.status_code == 403
        assert 'class="state active"' in c.get("/ui/subscribers/bob").text
    assert "ro suspend bob refused role readonly" in _audit(base)


def test_search_box(base: str) -> None:
    with session(base, "ro") as c:
        alice = c.get("/ui/subscribers/alice").text
        address = text_of(alice).split("now state pool ")[1].split()[0]
        assert address.startswith("100.64.3.")
        for q, kind in ((address, "auto"), ("100.64.3.0/24", "auto"), ("aa:bb:cc:00:11:22", "auto"),
                        ("aabb.cc00.1122", "auto"), ("ether5", "port"), ("ali", "auto")):  # fmt: skip
            r = c.get("/ui/subscribers", params={"q": q, "kind": kind})
            assert r.status_code == 200, q
            assert "/ui/subscribers/alice" in r.text, (q, text_of(r.text))
        assert c.get("/ui/subscribers", params={"q": "alice"}).headers["location"] == "/ui/subscribers/alice"
        r = c.get("/ui/subscribers", params={"q": "100.64.0.0/8"})
        assert "too wide" in r.text
        r = c.get("/ui/subscribers", params={"q": "100.64.3.250"})
        assert "nothing found" in r.text
        # who had it then? nobody on 2026-01-01, alice now
        assert (
            "nobody held it then"
            in c.get("/ui/ipam/address", params={"q": f"{address} 2026-01-01 14:00"}).text
        )
        history = c.get("/ui/ipam/address", params={"q": address}).text
        assert "/ui/subscribers/alice" in history
        r = c.get("/ui/ipam/address", params={"q": "not-an-address"})
        assert r.status_code == 200 and "is not an IPv4/IPv6 address" in r.text


def test_sessions_page_filters(base: str) -> None:
    with session(base, "hd") as c:
        for params in ({}, {"nas": "lo"}, {"site": "tower-1"}, {"pool": "cgnat"}):
            r = c.get("/ui/sessions", params=params)
            assert "/ui/subscribers/alice" in r.text and "disconnect-selected" in r.text, params
        assert "no NAS named" in c.get("/ui/sessions", params={"nas": "nope"}).text
        assert "/ui/subscribers/alice" in c.get("/ui/inventory/site/tower-1").text


def test_helpdesk_actions_are_audited(base: str, daemon: DaemonProcess, radclient: str) -> None:
    with session(base, "hd") as c:
        token = csrf_of(c.get("/ui/confirm", params={"action": "suspend", "user": "bob"}).text)
        r = c.post("/ui/act", data={"action": "suspend", "user": "bob", "csrf": token})
        assert r.status_code == 200 and "status is now suspended" in r.text
        r = c.post("/ui/act", data={"action": "resume", "user": "bob", "csrf": token})
        assert "status is now active" in r.text
        r = c.post("/ui/act", data={"action": "set-plan", "user": "bob", "plan": "gold", "csrf": token})
        assert "plan is now gold" in r.text
        r = c.post("/ui/act", data={"action": "reset-password", "user": "bob", "csrf": token})
        new = r.text.split('id="new-password">')[1].split("<")[0]
        assert len(new) >= 12
    attrs = f"User-Name = bob\nUser-Password = {new}\nMessage-Authenticator = 0x00\n"
    assert "Access-Accept" in run_radclient(radclient, daemon.auth_port, SECRET, attrs)
    audit = _audit(base)
    for line in ("hd suspend bob ok", "hd resume bob ok", "hd set-plan bob ok plan is now gold",
                 "hd reset-password bob ok password changed (generated)"):  # fmt: skip
        assert line in audit, line
    assert new not in audit


def test_rejects_shown_on_subscriber_page(base: str, daemon: DaemonProcess, radclient: str) -> None:
    attrs = "User-Name = alice\nUser-Password = wrong-one\nMessage-Authenticator = 0x00\n"
    assert "Access-Reject" in run_radclient(radclient, daemon.auth_port, SECRET, attrs)
    with session(base, "ro") as c:
        assert "wrong password" in c.get("/ui/subscribers/alice").text.lower()


def _lock(base: str, name: str, password: str) -> None:
    with httpx.Client(base_url=base) as c:
        for _ in range(5):
            form = c.get("/ui/login")
            r = c.post("/ui/login", data={"username": name, "password": "nope", "csrf": csrf_of(form.text)})
            assert r.status_code == 401
        form = c.get("/ui/login")
        r = c.post("/ui/login", data={"username": name, "password": password, "csrf": csrf_of(form.text)})
        assert r.status_code == 401  # locked, even with the right password


def test_lockout_after_five_failures(base: str, daemon: DaemonProcess) -> None:
    from tests.integration.web_console import add_operator

    add_operator(daemon.url, "temp", "readonly", "temp-pw-12345")
    _lock(base, "temp", "temp-pw-12345")
    listed = {o["name"]: o for o in json.loads(daemon.cli("operator", "list", "--json").stdout)}
    assert listed["temp"]["locked"] is True and listed["hd"]["locked"] is False
    daemon.cli("operator", "set", "temp", "--unlock")
    login(base, "temp", "temp-pw-12345").close()
    assert "temp login temp refused locked: too many failed logins" in _audit(base)

    _lock(base, "temp", "temp-pw-12345")  # again; now an admin unlocks it from the console
    with session(base, "hd") as c:
        assert c.get("/ui/confirm", params={"action": "unlock-operator", "user": "temp"}).status_code == 403
        token = csrf_of(c.get("/ui/dashboard").text)
        r = c.post("/ui/act", data={"action": "unlock-operator", "user": "temp", "csrf": token})
        assert r.status_code == 403
    with session(base, "root") as c:
        assert 'id="unlock-temp"' in c.get("/ui/audit").text
        confirm = c.get("/ui/confirm", params={"action": "unlock-operator", "user": "temp"})
        r = c.post(
            "/ui/act", data={"action": "unlock-operator", "user": "temp", "csrf": csrf_of(confirm.text)}
        )
        assert r.status_code == 200 and "unlocked" in r.text
    login(base, "temp", "temp-pw-12345").close()
    audit = _audit(base)
    assert "hd operator-unlock temp refused role helpdesk" in audit
    assert "root operator-unlock temp ok unlocked" in audit


def test_logout_ends_the_session(base: str) -> None:
    with session(base, "hd") as c:
        token = csrf_of(c.get("/ui/dashboard").text)
        cookie = c.cookies.get("radiusd_ui", path="/ui")
        assert c.post("/ui/logout", data={"csrf": token}).status_code == 303
    with httpx.Client(base_url=base, cookies={"radiusd_ui": str(cookie)}) as replay:
        assert replay.get("/ui/dashboard").status_code == 303


def test_api_tokens_keep_working(base: str, daemon: DaemonProcess) -> None:
    token = daemon.cli("api-token", "create", "web-itest").stdout.split()[0]
    with httpx.Client(base_url=base) as c:
        assert c.get("/subscribers").status_code == 401
        assert c.get("/subscribers", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with session(base, "root") as c:
        assert c.get("/subscribers").status_code == 401  # the console's cookie is not an API token


def test_operator_cli(daemon: DaemonProcess) -> None:
    out: Any = daemon.cli("operator", "add", "x", "--role", "admin", "--password", "mine", check=False)
    assert out.returncode != 0  # a password is never taken from the command line
    from click.testing import CliRunner

    from radiusd.cli.main import cli

    short = CliRunner().invoke(cli, ["--database", daemon.url, "operator", "add", "y", "--role", "admin",
                                     "--password", "-"], input="short\n")  # fmt: skip
    assert short.exit_code == 1 and "at least 10 characters" in short.stderr
    assert "no operator named 'nobody'" in daemon.cli("operator", "remove", "nobody", check=False).stderr


def test_names_with_markup_and_slashes(base: str, daemon: DaemonProcess) -> None:
    name = "eve/<i>x&y?#"
    daemon.cli("subscriber", "add", name, "--password", "eve-Pw-12345")
    with session(base, "hd") as c:
        found = c.get("/ui/subscribers", params={"q": "eve/<i>x&y?#"})
        assert found.status_code == 303
        page = c.get(found.headers["location"])
        assert page.status_code == 200 and "<i>x" not in page.text
        assert "eve/&lt;i&gt;x&amp;y?#" in page.text
        confirm = page.text.split('id="act-suspend" href="')[1].split('"')[0].replace("&amp;", "&")
        token = csrf_of(c.get(confirm).text)
        r = c.post("/ui/act", data={"action": "suspend", "user": name, "csrf": token})
        assert r.status_code == 200 and "status is now suspended" in r.text
    assert "suspended" in daemon.cli("subscriber", "show", name).stdout
