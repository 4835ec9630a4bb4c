"""CSV checks of ``radiusd subscriber import`` (no database)."""

from __future__ import annotations

import io

import pytest

from radiusd.store.subscriber_csv import CsvError, read_subscriber_rows


def rows(text: str) -> list[dict[str, str]]:
    return read_subscriber_rows(io.StringIO(text, newline=""))


def test_minimal_header_and_rows() -> None:
    assert rows("username,password\nalice,pw1\nbob,pw2\n") == [
        {"username": "alice", "password": "pw1"},
        {"username": "bob", "password": "pw2"},
    ]


def test_columns_in_any_order_case_and_optional_empties() -> None:
    text = "Status,Static_IP,Username,Password,Plan,pool\nSUSPENDED,, alice ,p w ,gold,\n"
    assert rows(text) == [{"status": "suspended", "username": "alice", "password": "p w ", "plan": "gold"}]


def test_bom_quotes_crlf_and_blank_lines() -> None:
    text = '\ufeffusername,password\r\n\r\n"alice","a,b""c"\r\n\r\nbob,x\r\n'
    assert rows(text) == [
        {"username": "alice", "password": 'a,b"c'},
        {"username": "bob", "password": "x"},
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("username\nalice\n", "missing column 'password'"),
        ("username,password,colour\n", "unknown column 'colour'"),
        ("username,password,username\n", "appears twice"),
        ("username,,password\n", "empty column name"),
        ("username,password\nalice,pw\nbob\n", "row 2: expected 2 fields"),
        ("username,password\nalice,pw,extra\n", "row 1: expected 2 fields"),
        ("username,password\n ,pw\n", "row 1: empty username"),
        ("username,password\nalice,\n", "row 1: empty password for 'alice'"),
        ("username,password,status\nalice,pw,frozen\n", "row 1: status 'frozen'"),
        ("username,password\na,1\nb,2\na,3\n", "row 3: username 'a' repeats row 1"),
        ('username,password\n"alice,pw\n', "line"),
    ],
)
def test_bad_files_name_the_row(text: str, message: str) -> None:
    with pytest.raises(CsvError, match=message) as info:
        rows(text)
    assert "\n" not in str(info.value)


def test_errors_never_echo_the_password() -> None:
    with pytest.raises(CsvError) as info:
        rows("username,password\nalice,s3cret,oops\n")
    assert "s3cret" not in str(info.value)


def test_many_rows_are_fast() -> None:
    import time

    text = "username,password,plan\n" + "".join(f"user{i},pw{i},gold\n" for i in range(50_000))
    started = time.perf_counter()
    assert len(rows(text)) == 50_000
    assert time.perf_counter() - started < 2.0
