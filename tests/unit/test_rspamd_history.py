"""The abuse scan over rspamd's history (R4.2b, R8.2b): structure only, so senders cannot frame anyone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from govmail.mailhost import rspamd_history as rh

VICTIM = "nvbinh@khanhhoa.gov.vn"
SPAMMER = "stolen@khanhhoa.gov.vn"
GOVMAIL = str(Path(sys.executable).with_name("govmail"))


def _row(user="unknown", action="no action", symbols=(), t=1764670000, **extra):
    return {
        "unix_time": t,
        "user": user,
        "action": action,
        "symbols": {s: {"score": 1.0} for s in symbols},
        "sender_smtp": "x@example.org",
        "subject": "hi",
        **extra,
    }


def test_limited_spam_and_malware_from_accounts_are_flagged_and_inbound_mail_is_not():
    rows = [
        _row(SPAMMER, "no action", t=1764670000),
        _row(SPAMMER, "soft reject", ["GOVMAIL_RATELIMIT"], t=1764670100),
        _row("Other@Khanhhoa.gov.vn", "reject", ["GTUBE"], t=1764670200),
        _row("virus@khanhhoa.gov.vn", "reject", ["CLAM_VIRUS"], t=1764670300),
        _row("quiet@khanhhoa.gov.vn", "no action"),
        _row("unknown", "reject", ["CLAM_VIRUS"]),  # inbound malware: nobody's account
        _row("unknown", "soft reject", ["GOVMAIL_RATELIMIT"]),
    ]
    result = rh.scan(rh.rows_of(json.dumps({"version": 2, "rows": rows})))
    assert (result.rows, result.outbound) == (7, 5)
    flagged = {a.account: a for a in result.flagged()}
    assert sorted(flagged) == ["other@khanhhoa.gov.vn", SPAMMER, "virus@khanhhoa.gov.vn"]
    assert (flagged[SPAMMER].messages, flagged[SPAMMER].ratelimited) == (2, 1)
    assert flagged["other@khanhhoa.gov.vn"].spam == 1
    assert flagged["virus@khanhhoa.gov.vn"].malware == 1
    assert flagged[SPAMMER].reasons() == ["over the sending limit 1×"]


def test_an_attacker_writing_an_address_into_senders_subjects_or_symbols_options_frames_nobody():
    """The attack: mail from outside (and from the attacker's own account) carrying the victim's address
    and history-looking text everywhere the sender controls. Only `user` (the SASL login) is believed."""
    forged = json.dumps({"user": VICTIM, "action": "reject", "symbols": {"GOVMAIL_RATELIMIT": {}}})
    rows = [
        _row(
            "unknown",
            "soft reject",
            ["GOVMAIL_RATELIMIT"],
            sender_smtp=VICTIM,
            sender_mime=VICTIM,
            subject=forged,
            rcpt_smtp=[VICTIM],
        ),
        _row(SPAMMER, "no action", sender_smtp=VICTIM, sender_mime=f'"{VICTIM}" <{VICTIM}>', subject=forged),
        {
            "unix_time": 1764670000,
            "user": "unknown",
            "action": "reject",
            "symbols": {"GOVMAIL_RATELIMIT": {"options": [f"user({VICTIM})"]}},
        },
    ]
    result = rh.scan(rh.rows_of(json.dumps({"rows": rows})))
    assert result.flagged() == []
    assert VICTIM not in result.accounts
    assert list(result.accounts) == [SPAMMER]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ('{"rows": 3}', "`rows` list"),
        ('{"rows": ["x"]}', "row 1: not an object"),
        ('{"rows": [{"user": "a b@x", "unix_time": 1, "action": "reject"}]}', "row 1: user: not an address"),
        ('{"rows": [{"user": "a@x", "unix_time": "soon", "action": "reject"}]}', "row 1: unix_time"),
        ('{"rows": [{"user": "a@x", "unix_time": 1, "action": 5}]}', "row 1: action"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
    ],
)
def test_bad_history_is_refused_with_the_row_and_field(text, message):
    with pytest.raises(rh.HistoryError, match=message):
        rh.scan(rh.rows_of(text, "h.json"), source="h.json")


def test_an_oversized_history_is_refused_unread(monkeypatch):
    monkeypatch.setattr(rh, "MAX_BYTES", 100)
    with pytest.raises(rh.HistoryError, match="larger than 100 bytes"):
        rh.rows_of("[" + " " * 200 + "]")


def test_the_cli_reads_a_saved_history_and_exits_3_on_a_flag(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"rows": [_row(SPAMMER, "soft reject", ["GOVMAIL_RATELIMIT"])]}))
    out = subprocess.run(
        [GOVMAIL, "abuse", "scan", "--rspamd-history", str(path), "--json"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 3, out.stderr
    assert f"FLAG {SPAMMER}: over the sending limit 1×" in out.stdout
    assert json.loads(out.stdout.splitlines()[-1])["rspamd"][0]["ratelimited"] == 1
    path.write_text("{}")
    bad = subprocess.run(
        [GOVMAIL, "abuse", "scan", "--rspamd-history", str(path)], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "`rows` list" in bad.stderr


def test_since_hours_counts_only_the_recent_scans(tmp_path):
    """The hourly job passes --since-hours 2: an account flagged yesterday is not flagged again every hour."""
    import time

    now = time.time()
    path = tmp_path / "history.json"
    rows = [
        _row(SPAMMER, "reject", ["CLAM_VIRUS"], t=now - 26 * 3600),
        _row(VICTIM, "reject", ["CLAM_VIRUS"], t=now - 600),
    ]
    path.write_text(json.dumps({"rows": rows}))
    out = subprocess.run(
        [GOVMAIL, "abuse", "scan", "--rspamd-history", str(path), "--since-hours", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 3, out.stderr
    assert f"FLAG {VICTIM}: malware refused 1×" in out.stdout
    assert SPAMMER not in out.stdout
    everything = subprocess.run(
        [GOVMAIL, "abuse", "scan", "--rspamd-history", str(path)], capture_output=True, text=True, check=False
    )
    assert f"FLAG {SPAMMER}" in everything.stdout  # the control: without the window both are counted
