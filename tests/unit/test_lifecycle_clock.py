"""The calendar arithmetic of the Article 8 clocks, and the scan's decisions on given stamps."""

from __future__ import annotations

import datetime as dt

from govmail.lifecycle.clocks import Activity, months_later, scan
from govmail.model.rules import load_valid
from helpers import REPO

D = dt.date


def test_months_later_clamps_to_the_end_of_the_month():
    assert months_later(D(2026, 8, 31), 6) == D(2027, 2, 28)
    assert months_later(D(2027, 8, 31), 6) == D(2028, 2, 29)
    assert months_later(D(2026, 11, 28), 1) == D(2026, 12, 28)
    assert months_later(D(2026, 12, 15), 1) == D(2027, 1, 15)
    assert months_later(D(2026, 3, 10), -6) == D(2025, 9, 10)


CREATED = D(2025, 1, 1)


def _activity(address, last=None, created=CREATED, state="active"):
    return Activity(address, state, last, created, created)


def test_scan_suspends_at_six_months_to_the_day_and_warns_before():
    tree = load_valid(REPO / "accounts")
    today = D(2026, 11, 28)
    activity = {
        "nvbinh@khanhhoa.gov.vn": _activity("nvbinh@khanhhoa.gov.vn", last=D(2026, 5, 28)),  # due today
        "pqhuy@khanhhoa.gov.vn": _activity("pqhuy@khanhhoa.gov.vn", last=D(2026, 5, 29)),  # due tomorrow
        "dtha@khanhhoa.gov.vn": _activity("dtha@khanhhoa.gov.vn", last=D(2026, 6, 13)),  # due in 15 days
        "vtson@khanhhoa.gov.vn": _activity("vtson@khanhhoa.gov.vn", last=D(2025, 1, 1), state="suspended"),
    }
    result = scan(tree, activity, today, proposed=set())
    assert [d.address for d in result.suspend] == ["nvbinh@khanhhoa.gov.vn"]
    assert [d.address for d in result.warn] == ["pqhuy@khanhhoa.gov.vn"]
    assert result.suspend[0].since == D(2026, 5, 28) and result.suspend[0].due == today
    # Proposed already in an open branch: reported, not proposed again.
    again = scan(tree, activity, today, proposed={("suspend", "nvbinh@khanhhoa.gov.vn")})
    assert again.suspend == [] and [d.address for d in again.already] == ["nvbinh@khanhhoa.gov.vn"]


def test_a_restore_restarts_the_clock():
    seen = _activity("x@khanhhoa.gov.vn", last=D(2025, 1, 1))
    assert seen.last(None) == D(2025, 1, 1)
    assert seen.last("2026-10-01") == D(2026, 10, 1)
