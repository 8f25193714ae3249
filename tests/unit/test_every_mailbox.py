"""Issue 11 §1, §2, §5: unit, body and organisation mailboxes are accounts like any other; the apply
record takes every op; the lifecycle clocks in Vietnam time, odd entries skipped, reasons respected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from govmail.cli.main import main
from govmail.directory.converge import Issued
from govmail.directory.delivery import readable, recipients, resend, waiting_for_unit
from govmail.directory.plan import OPERATIONS, VIA_SUPPORT, plan
from govmail.lifecycle.clocks import Activity, _date, scan, warning_notices
from govmail.model.addresses import accounts
from govmail.model.rules import load_valid
from govmail.workflow import records
from helpers import snapshot

D = dt.date

SKHCN = """\
org:
  id: skhcn
  name: Sở Khoa học và Công nghệ
  kind: province_body
  owners: [skhcn-it]
units:
  - {id: ppc, name: Phòng Pháp chế}
  - id: ttcds
    name: Trung tâm Chuyển đổi số
people:
  - name: Nguyễn Văn Bình
    title: Trưởng phòng
    unit: ppc
    address: nvbinh@khanhhoa.gov.vn
"""

NINHPHUOC = """\
org: {id: ninhphuoc, name: Ninh Phước, kind: commune, owners: [np]}
people:
  - {name: Trần Văn Tư, title: Chủ tịch, address: tvtu@khanhhoa.gov.vn}
"""

TUBONG = """\
org:
  id: tubong
  name: Tu Bông
  kind: commune
  owners: [tb]
  bodies:
    - du
    - ubnd
"""


@pytest.fixture
def root(tree_dir):
    return tree_dir(
        {"departments/skhcn.yaml": SKHCN, "communes/ninhphuoc.yaml": NINHPHUOC, "communes/tubong.yaml": TUBONG}
    )


def text(root: Path, rel: str) -> str:
    return (root / rel).read_text(encoding="utf-8")


def run(root, *args):
    return main(["request", *args, "--dir", str(root)])


def by_address(root) -> dict:
    return {a.address: a for a in accounts(load_valid(root))}


# --- §1 requests for every kind -------------------------------------------------------------------


def test_reset_of_the_org_and_of_a_sub_unit_mailbox_writes_a_reset_token(root):
    assert run(root, "reset", "--address", "skhcn", "--date", "2026-12-01") == 0
    assert run(root, "reset", "--address", "ttcds.skhcn", "--date", "2026-12-01") == 0
    assert text(root, "departments/skhcn.yaml") == SKHCN.replace(
        "  owners: [skhcn-it]\n", '  owners: [skhcn-it]\n  reset: "2026-12-01"\n'
    ).replace("    name: Trung tâm Chuyển đổi số\n", '    name: Trung tâm Chuyển đổi số\n    reset: "2026-12-01"\n')
    found = by_address(root)
    assert found["skhcn@khanhhoa.gov.vn"].reset == "2026-12-01"
    assert found["ttcds.skhcn@khanhhoa.gov.vn"].reset == "2026-12-01"
    # the plan asks the directory for a reset of both
    current = [{**a.as_dict(), "reset": None} for a in found.values()]
    ops = {(c.op, c.address) for c in plan(list(found.values()), current)}
    assert ops == {("reset", "skhcn@khanhhoa.gov.vn"), ("reset", "ttcds.skhcn@khanhhoa.gov.vn")}


def test_suspend_restore_revoke_of_a_sub_unit_and_an_org_mailbox(root):
    assert run(root, "suspend", "--address", "ppc.skhcn", "--reason", "requested", "sáp", "nhập", "--date",
               "2026-11-02") == 0  # fmt: skip
    assert by_address(root)["ppc.skhcn@khanhhoa.gov.vn"].status == "suspended"
    assert run(root, "restore", "--address", "ppc.skhcn", "--date", "2026-11-03") == 0
    unit = by_address(root)["ppc.skhcn@khanhhoa.gov.vn"]
    assert (unit.status, unit.reason, unit.since) == ("active", None, "2026-11-03")
    assert run(root, "revoke", "--address", "ttcds.skhcn", "--reason", "other", "giải", "thể") == 0
    assert by_address(root)["ttcds.skhcn@khanhhoa.gov.vn"].status == "revoked"
    assert run(root, "suspend", "--address", "skhcn@khanhhoa.gov.vn", "--reason", "compromised") == 0
    assert by_address(root)["skhcn@khanhhoa.gov.vn"].status == "suspended"
    assert "status: suspended" in text(root, "departments/skhcn.yaml").split("units:")[0]


def test_commune_body_mailboxes_get_a_state_of_their_own(root):
    # bodies not listed (default all three): the list is written out with the one body as a mapping
    assert run(root, "reset", "--address", "ubndninhphuoc", "--date", "2026-12-01") == 0
    assert 'bodies: [du, {id: ubnd, reset: "2026-12-01"}, hdnd]' in text(root, "communes/ninhphuoc.yaml")
    # a block list: the one item becomes a mapping, the rest stays byte for byte
    assert run(root, "suspend", "--address", "dutubong", "--reason", "requested", "--date", "2026-11-02") == 0
    assert text(root, "communes/tubong.yaml") == TUBONG.replace(
        "    - du\n", "    - {id: du, status: suspended, reason: requested, since: 2026-11-02}\n"
    )
    found = by_address(root)
    assert found["dutubong@khanhhoa.gov.vn"].status == "suspended"
    assert found["ubndtubong@khanhhoa.gov.vn"].status == "active"  # the other body is untouched
    assert found["ubndninhphuoc@khanhhoa.gov.vn"].reset == "2026-12-01"
    assert run(root, "reset", "--address", "ubndninhphuoc", "--date", "2026-12-01") == 0
    assert by_address(root)["ubndninhphuoc@khanhhoa.gov.vn"].reset == "2026-12-01-2"


def test_requests_on_mailboxes_refuse_what_they_refuse_for_people(root, capsys):
    assert run(root, "revoke", "--address", "ppc.skhcn", "--reason", "other", "giải", "thể") == 0
    before = snapshot(root)
    assert run(root, "restore", "--address", "ppc.skhcn") == 1
    assert run(root, "reset", "--address", "ppc.skhcn") == 1
    assert run(root, "suspend", "--address", "ppc.skhcn", "--reason", "requested") == 1
    assert run(root, "reset", "--address", "nosuch.skhcn") == 1
    err = capsys.readouterr().err
    assert "ppc.skhcn@khanhhoa.gov.vn is revoked; only a suspended account can be restored" in err
    assert "ppc.skhcn@khanhhoa.gov.vn is already revoked; a revoked address is never brought back" in err
    assert "no person has the address nosuch.skhcn@khanhhoa.gov.vn" in err
    assert snapshot(root) == before


def test_a_body_written_twice_or_with_a_bad_state_is_refused(tree_dir, capsys):
    bad = TUBONG.replace("    - ubnd\n", "    - ubnd\n    - {id: du}\n    - {id: hdnd, status: suspended}\n")
    root = tree_dir({"communes/tubong.yaml": bad})
    assert main(["validate", str(root)]) == 1
    captured = capsys.readouterr()
    err = captured.out + captured.err
    assert "org.bodies[2]: body 'du' is listed twice" in err
    assert "org.bodies[3].status: status suspended needs a reason (R8.2)" in err


def test_form_import_resets_and_suspends_unit_mailboxes(root, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["STT", "Tên đơn vị", "Yêu cầu", "Ghi chú"])
    sheet.append([1, "Phòng Pháp chế", "Cấp lại mật khẩu", ""])
    sheet.append([2, "Sở Khoa học và Công nghệ", "Tạm khóa", "theo đề nghị"])
    sheet.append([3, "Ủy ban nhân dân xã Ninh Phước", "Cấp lại mật khẩu", ""])
    form = tmp_path / "form.xlsx"
    book.save(form)
    code = main(["import-form", str(form), "--org", "skhcn", "--dir", str(root), "--date", "2026-12-01"])
    assert code == 0
    found = by_address(root)
    assert found["ppc.skhcn@khanhhoa.gov.vn"].reset == "2026-12-01"
    assert found["skhcn@khanhhoa.gov.vn"].status == "suspended"
    assert found["ubndninhphuoc@khanhhoa.gov.vn"].reset == "2026-12-01"


# --- §1 initial passwords go where somebody can read them -----------------------------------------


def _issued(tree, *addresses):
    every = {a.address: a for a in accounts(tree)}
    return [Issued(every[a], "x") for a in addresses]


def test_initial_passwords_wait_for_a_readable_unit_mailbox_then_are_sent_again(root):
    tree = load_valid(root)
    desired = accounts(tree)
    binh = "nvbinh@khanhhoa.gov.vn"
    unit = {a.address: a.as_dict() | {"pwd_reset": False} for a in desired}
    # the unit mailbox exists and is active, but its own initial password was never changed
    unit["skhcn@khanhhoa.gov.vn"]["pwd_reset"] = True
    batches = recipients(_issued(tree, binh), tree, readable(desired, unit))
    assert list(batches) == ["hotrothudientu@khanhhoa.gov.vn"]
    assert waiting_for_unit(_issued(tree, binh), tree, batches) == {binh}
    # later: Bình has not changed his password yet, the unit mailbox has been taken into use
    unit[binh].update(reset=VIA_SUPPORT, pwd_reset=True)
    current = list(unit.values())
    assert [c.address for c in plan(desired, current)] == []  # the mark alone asks for nothing
    assert resend(tree, desired, current, []) == []  # the unit mailbox still cannot be read
    unit["skhcn@khanhhoa.gov.vn"]["pwd_reset"] = False
    again = resend(tree, desired, current, [])
    assert [(c.op, c.address) for c in again] == [("reset", binh)]
    batches = recipients(_issued(tree, binh), tree, readable(desired, unit))
    assert list(batches) == ["skhcn@khanhhoa.gov.vn"]
    assert waiting_for_unit(_issued(tree, binh), tree, batches) == set()
    # once he changed it himself, nothing is re-sent
    unit[binh]["pwd_reset"] = False
    assert resend(tree, desired, list(unit.values()), []) == []


# --- §2 every op the module writes is recordable ---------------------------------------------------


def test_record_accepts_every_op_the_module_writes_and_drift_reported():
    assert set(OPERATIONS) == set(records.OPS)
    report = {
        "format": records.FORMAT,
        "commit": None,
        "started": "2026-10-01T01:00:00Z",
        "finished": "2026-10-01T01:01:00Z",
        "check_mode": False,
        "accounts_dir": "accounts",
        "summary": {},
        "changes": [
            {"op": op, "address": f"a{i}@khanhhoa.gov.vn", "result": "reported" if op == "drift" else "ok"}
            for i, op in enumerate(OPERATIONS)
        ],
    }
    assert records.check_report(report) is report


# --- §5 lifecycle clocks ----------------------------------------------------------------------------


def test_login_times_are_vietnam_days():
    # 06:30 in Vietnam on 2 December is 23:30 UTC on 1 December
    assert _date("20261201233000Z") == D(2026, 12, 2)
    assert _date(dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)) == D(2026, 12, 2)
    assert _date("20261201165959Z") == D(2026, 12, 1)


def _activity(address, last):
    return Activity(address, "active", last, D(2025, 1, 1), D(2025, 1, 1))


def test_unit_warnings_are_keyed_by_due_date_not_the_scan_date(root):
    tree = load_valid(root)
    binh = "nvbinh@khanhhoa.gov.vn"
    activity = {binh: _activity(binh, D(2026, 6, 5))}  # due 5 December
    keys = []
    for today in (D(2026, 11, 25), D(2026, 11, 26)):
        result = scan(tree, activity, today, set())
        keys.append({n.key for n in warning_notices(tree, result, "https://x")})
    assert (
        keys[0]
        == keys[1]
        == {
            "2026-12-05:suspend-warning:nvbinh@khanhhoa.gov.vn",
            "2026-12-05:unit-warning:skhcn@khanhhoa.gov.vn",
        }
    )


def test_inactive_reason_with_an_end_date_holds_the_clock_until_then(tree_dir):
    excused = SKHCN + "    inactive_reason: {text: nghỉ thai sản, until: 2027-03-31}\n"
    tree = load_valid(tree_dir({"departments/skhcn.yaml": excused}))
    binh = "nvbinh@khanhhoa.gov.vn"
    activity = {binh: _activity(binh, D(2026, 1, 10))}  # six months passed long ago
    held = scan(tree, activity, D(2026, 12, 1), set())
    assert held.suspend == [] and held.warn == []
    assert [(d.address, d.due, d.reason) for d in held.excused] == [(binh, D(2027, 4, 1), "nghỉ thai sản")]
    warned = scan(tree, activity, D(2027, 3, 25), set())
    assert [d.due for d in warned.warn] == [D(2027, 4, 1)]
    due = scan(tree, activity, D(2027, 4, 1), set())
    assert [d.address for d in due.suspend] == [binh]


def test_a_proposal_dropped_by_the_reviewer_is_not_made_again_unless_something_changed(root):
    tree = load_valid(root)
    binh = "nvbinh@khanhhoa.gov.vn"
    activity = {binh: _activity(binh, D(2026, 5, 1))}
    before = {f"suspend {binh} 2026-05-01"}
    result = scan(tree, activity, D(2026, 12, 1), set(), before=before)
    assert result.suspend == [] and [d.address for d in result.dropped] == [binh]
    activity = {binh: _activity(binh, D(2026, 5, 20))}  # he signed in since: a new clock
    assert [d.address for d in scan(tree, activity, D(2026, 12, 1), set(), before=before).suspend] == [binh]


def test_suspended_unit_mailboxes_follow_the_one_month_clock(root):
    assert run(root, "suspend", "--address", "ppc.skhcn", "--reason", "requested", "--date", "2026-10-01") == 0
    tree = load_valid(root)
    result = scan(tree, {}, D(2026, 11, 1), set())
    assert [(d.op, d.address, d.kind) for d in result.revoke] == [("revoke", "ppc.skhcn@khanhhoa.gov.vn", "unit")]
    assert scan(tree, {}, D(2026, 10, 31), set()).revoke == []


def test_the_revocation_of_a_suspended_unit_mailbox_is_proposed_on_a_branch(tmp_path):
    from gitrepo import Repo
    from govmail.lifecycle.clocks import propose
    from helpers import PROVINCE

    repo = Repo(tmp_path / "repo")
    suspended = SKHCN.replace(
        "{id: ppc, name: Phòng Pháp chế}",
        '{id: ppc, name: Phòng Pháp chế, status: suspended, reason: requested, since: "2026-10-01"}',
    )
    repo.commit("start", {"accounts/province.yaml": PROVINCE, "accounts/skhcn.yaml": suspended})
    accounts = repo.path / "accounts"
    result = scan(load_valid(accounts), {}, D(2026, 11, 1), set())
    proposal = propose(accounts, result)
    assert proposal.branch == "lifecycle/2026-11-01" and len(proposal.commits) == 1
    message = repo.git("log", "-1", "--format=%B", proposal.branch)
    assert "Govmail-Lifecycle: revoke ppc.skhcn@khanhhoa.gov.vn (from 2026-10-01)" in message
    text = repo.git("show", f"{proposal.branch}:accounts/skhcn.yaml")
    assert (
        '{id: ppc, name: Phòng Pháp chế, status: revoked, reason: "requested R8.1: tạm ngưng từ 2026-10-01, quá 1 tháng'
        ' không có yêu cầu khôi phục", since: 2026-11-01}' in text
    )


def test_password_expiry_days_are_vietnam_days():
    from govmail.lifecycle.reminders import Expiry, notice

    # expires at 18:00 UTC on 9 December: 01:00 on 10 December in Vietnam
    item = Expiry("a@khanhhoa.gov.vn", "A", dt.datetime(2026, 9, 10, 18, tzinfo=dt.UTC),
                  dt.datetime(2026, 12, 9, 18, tzinfo=dt.UTC))  # fmt: skip
    assert item.expires_day == D(2026, 12, 10)
    assert item.days_left(D(2026, 12, 3)) == 7
    assert notice(item, D(2026, 12, 3), 7, "https://x").key == "2026-12-10:expiry-7:a@khanhhoa.gov.vn"
