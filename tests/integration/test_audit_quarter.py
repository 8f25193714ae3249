"""Issue 11 (done when): a synthetic quarter with unit, body and organisation mailboxes, a button merge
and a squash merge, a brownfield adoption, drift in an apply report, a transfer and an open late
request gives exact figures in ``history``, ``sla``, ``report`` and ``reply``.

The quarter, 2026Q4 (Vietnam time; no public holiday falls in it):
0. 2026-09-01 TTCĐS sets up Sở KH&CN (units ppc, ttcds; Bình, Mai) and xã Ninh Phước; applied.
1. Mon 5/10 TTCĐS takes over Sở Y tế's existing mailboxes (syt@, Hoa): the apply *adopts* them.
2. Mon 12/10 Sở KH&CN asks for a password reset of its unit mailbox ppc.skhcn@ (merge button 13/10);
   applied 13/10, the same apply reporting drift (an undeclared old entry) → 1 working day, on time.
3. Mon 2/11 Sở KH&CN asks to suspend its unit mailbox ttcds.skhcn@ (squash merge 4/11); applied 4/11 → 2.
4. Mon 16/11 TTCĐS transfers Mai from Sở KH&CN to Sở Y tế (merged 17/11); applied 18/11 → 2.
5. Wed 25/11 TTCĐS resets the UBND mailbox of xã Ninh Phước (direct commit); applied 26/11 → 1.
6. Tue 1/12 Sở KH&CN asks for Lê Văn Tám (merged 2/12), never applied (no apply since): due 8/12, late
   on 15/12.
"""

import datetime as dt
import json

import pytest

from gitrepo import Repo
from govmail.cli.main import main
from govmail.workflow.gitlog import Git
from govmail.workflow.history import History
from govmail.workflow.report import Quarter, build
from govmail.workflow.sla import rows
from helpers import PROVINCE

pytestmark = pytest.mark.integration

UNITS = "units:\n  - {id: ppc, name: Phòng Pháp chế}\n  - {id: ttcds, name: Trung tâm Chuyển đổi số}\n"
SKHCN = "org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn-it]}\n"
BINH = "  - {name: Nguyễn Văn Bình, title: Trưởng phòng, unit: ppc, address: nvbinh@khanhhoa.gov.vn}\n"
MAI = "  - {name: Trần Thị Mai, title: Chuyên viên, address: ttmai@khanhhoa.gov.vn}\n"
TAM = "  - {name: Lê Văn Tám, title: Chuyên viên, unit: ppc, address: lvtam@khanhhoa.gov.vn}\n"
NINHPHUOC = "org: {id: ninhphuoc, name: Ninh Phước, kind: commune, owners: [ttcds]}\n"
SYT = "org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt-tccb]}\npeople:\n"
HOA = "  - {name: Trần Thị Hoa, title: Bác sĩ, address: tthoa@khanhhoa.gov.vn}\n"
TODAY = dt.date(2026, 12, 15)


def apply_report(commit, finished, changes):
    return {
        "format": "govmail-apply/1",
        "commit": commit,
        "started": finished,
        "finished": finished,
        "check_mode": False,
        "accounts_dir": "accounts",
        "summary": {},
        "changes": [
            {"op": op, "address": address, "result": "reported" if op == "drift" else "ok", "error": None}
            for op, address in changes
        ],
        "archives": [],
        "notified": [],
    }


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quarter")
    r = Repo(tmp / "repo")
    ids = {}

    def record(name, commit, finished, changes):
        path = tmp / f"{name}.json"
        path.write_text(json.dumps(apply_report(commit, finished, changes)), encoding="utf-8")
        assert main(["record", str(path), "--repo", str(r.path)]) == 0

    skhcn = SKHCN + UNITS + "people:\n" + BINH + MAI
    ids["setup"] = r.commit(
        "Thiết lập",
        {"accounts/province.yaml": PROVINCE, "accounts/skhcn.yaml": skhcn, "accounts/ninhphuoc.yaml": NINHPHUOC},
        when="2026-09-01T09:00:00+07:00",
    )
    every = ["skhcn", "ppc.skhcn", "ttcds.skhcn", "nvbinh", "ttmai", "duninhphuoc", "ubndninhphuoc", "hdndninhphuoc"]
    record("setup", ids["setup"], "2026-09-01T03:00:00Z", [("create", f"{a}@khanhhoa.gov.vn") for a in every])

    r.branch("adopt")
    r.commit("Tiếp nhận hộp thư có sẵn của Sở Y tế", {"accounts/syt.yaml": SYT + HOA}, when="2026-10-05T08:00:00+07:00")
    ids["adopt"] = r.merge("adopt", when="2026-10-05T09:00:00+07:00")
    record(
        "adopt",
        ids["adopt"],
        "2026-10-05T03:00:00Z",
        [("adopt", "syt@khanhhoa.gov.vn"), ("adopt", "tthoa@khanhhoa.gov.vn")],
    )

    r.branch("reset-ppc")
    ids["reset-req"] = r.commit(
        "Đề nghị cấp lại mật khẩu hộp thư Phòng Pháp chế",
        {"accounts/skhcn.yaml": skhcn.replace("Phòng Pháp chế}", 'Phòng Pháp chế, reset: "2026-10-12"}')},
        who="skhcn-it",
        when="2026-10-12T09:00:00+07:00",
    )
    ids["reset"] = r.merge("reset-ppc", when="2026-10-13T10:00:00+07:00")
    skhcn = (r.path / "accounts/skhcn.yaml").read_text(encoding="utf-8")
    record(
        "reset",
        ids["reset"],
        "2026-10-13T08:00:00Z",
        [("reset", "ppc.skhcn@khanhhoa.gov.vn"), ("drift", "cu@khanhhoa.gov.vn")],
    )

    r.branch("suspend-ttcds")
    suspended = skhcn.replace(
        "Trung tâm Chuyển đổi số}",
        'Trung tâm Chuyển đổi số, status: suspended, reason: requested tạm dừng, since: "2026-11-02"}',
    )
    r.commit("Tạm khóa hộp thư Trung tâm Chuyển đổi số", {"accounts/skhcn.yaml": suspended}, who="skhcn-it",
             when="2026-11-02T08:00:00+07:00")  # fmt: skip
    ids["suspend"] = r.squash(
        "suspend-ttcds", "Tạm khóa hộp thư ttcds.skhcn (#5)", author="skhcn-it", authored="2026-11-02T08:00:00+07:00",
        when="2026-11-04T09:00:00+07:00",
    )  # fmt: skip
    record("suspend", ids["suspend"], "2026-11-04T03:00:00Z", [("suspend", "ttcds.skhcn@khanhhoa.gov.vn")])

    r.branch("transfer")
    r.commit(
        "Chuyển Trần Thị Mai sang Sở Y tế",
        {"accounts/skhcn.yaml": suspended.replace(MAI, ""), "accounts/syt.yaml": SYT + HOA + MAI},
        when="2026-11-16T08:00:00+07:00",
    )
    ids["transfer"] = r.merge("transfer", when="2026-11-17T09:00:00+07:00")
    record("transfer", ids["transfer"], "2026-11-18T02:00:00Z", [("move", "ttmai@khanhhoa.gov.vn")])

    ids["ubnd"] = r.commit(
        "Cấp lại mật khẩu hộp thư UBND xã Ninh Phước",
        {"accounts/ninhphuoc.yaml": NINHPHUOC.replace("owners: [ttcds]", 'owners: [ttcds], bodies: [du, {id: ubnd, reset: "2026-11-25"}, hdnd]')},
        when="2026-11-25T09:00:00+07:00",
    )  # fmt: skip
    record("ubnd", ids["ubnd"], "2026-11-26T02:00:00Z", [("reset", "ubndninhphuoc@khanhhoa.gov.vn")])
    r.branch("new-tam")
    r.commit("Đề nghị tạo tài khoản Lê Văn Tám", {"accounts/skhcn.yaml": suspended.replace(MAI, "") + TAM},
             who="skhcn-it", when="2026-12-01T10:00:00+07:00")  # fmt: skip
    ids["late"] = r.merge("new-tam", when="2026-12-02T09:00:00+07:00")

    return r, ids


def _history(r, address, capsys):
    assert main(["history", address, "--repo", str(r.path)]) == 0
    return capsys.readouterr().out.splitlines()


def test_history_sees_unit_and_body_mailboxes_adoptions_and_shows_vietnam_time(quarter, capsys):
    r, ids = quarter
    assert _history(r, "ppc.skhcn", capsys) == [
        "History of ppc.skhcn@khanhhoa.gov.vn",
        "create: Phòng Pháp chế, unit, skhcn/ppc",
        f"  requested 2026-09-01 09:00 by Lê Văn Duyệt <ttcds@khanhhoa.gov.vn> in {ids['setup'][:10]} (Thiết lập)",
        f"  approved (squash or direct commit) 2026-09-01 09:00 by Lê Văn Duyệt in {ids['setup'][:10]}",
        f"  applied 2026-09-01 10:00 (ok) at {ids['setup'][:10]}",
        "reset: reset: None → '2026-10-12'",
        f"  requested 2026-10-12 09:00 by Phạm Quốc Huy <skhcn@khanhhoa.gov.vn> in {ids['reset-req'][:10]}"
        " (Đề nghị cấp lại mật khẩu hộp thư Phòng Pháp chế)",
        f"  merged 2026-10-13 10:00 by Lê Văn Duyệt in {ids['reset'][:10]}",
        f"  applied 2026-10-13 15:00 (ok) at {ids['reset'][:10]}",  # drift in the same apply is no failure
    ]
    body = _history(r, "ubndninhphuoc", capsys)
    assert body[1] == "create: Ủy ban nhân dân xã Ninh Phước, body, ninhphuoc"
    assert body[5:] == [
        "reset: reset: None → '2026-11-25'",
        f"  requested 2026-11-25 09:00 by Lê Văn Duyệt <ttcds@khanhhoa.gov.vn> in {ids['ubnd'][:10]}"
        " (Cấp lại mật khẩu hộp thư UBND xã Ninh Phước)",
        f"  approved (squash or direct commit) 2026-11-25 09:00 by Lê Văn Duyệt in {ids['ubnd'][:10]}",
        f"  applied 2026-11-26 09:00 (ok) at {ids['ubnd'][:10]}",
    ]
    suspended = _history(r, "ttcds.skhcn", capsys)
    assert suspended[5] == "suspend: status: 'active' → 'suspended'; reason: requested tạm dừng"
    assert _history(r, "tthoa", capsys)[1] == "adopt: Trần Thị Hoa, Bác sĩ, syt"
    assert _history(r, "syt", capsys)[1] == "adopt: Sở Y tế, organisation, syt"


def test_sla_counts_every_request_once_adoptions_are_nobodys_request(quarter, capsys):
    r, ids = quarter
    table = rows(History(Git(r.path)), since=dt.date(2026, 10, 1), today=TODAY)
    assert [(x.commit, x.accounts, x.days_to_apply, x.due, x.late) for x in table] == [
        (ids["reset"], ["ppc.skhcn@khanhhoa.gov.vn"], 1, dt.date(2026, 10, 19), False),
        (ids["suspend"], ["ttcds.skhcn@khanhhoa.gov.vn"], 2, dt.date(2026, 11, 9), False),
        (ids["transfer"], ["ttmai@khanhhoa.gov.vn"], 2, dt.date(2026, 11, 23), False),
        (ids["ubnd"], ["ubndninhphuoc@khanhhoa.gov.vn"], 1, dt.date(2026, 12, 2), False),
        (ids["late"], ["lvtam@khanhhoa.gov.vn"], None, dt.date(2026, 12, 8), True),
    ]
    assert main(["sla", "--since", "2026-10-01", "--today", "2026-12-15", "--repo", str(r.path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "5 request(s); 4 within 5 working days, 1 past the deadline (R7.2b)."
    # (the replied and request columns come and go with the forge records: not this test's business)
    assert out[1].startswith("2026-10-12 09:00 2026-10-13 10:00 2026-10-13 15:00 ")
    assert f"2026-10-19   1  ok   {ids['reset'][:10]} " in out[1] and out[1].endswith(" ppc.skhcn@khanhhoa.gov.vn")


def test_quarterly_report_figures_with_every_kind_and_an_adoption(quarter):
    r, ids = quarter
    rep = build(History(Git(r.path)), Quarter.parse("2026Q4"), today=TODAY)
    assert rep.as_of == TODAY and rep.commit == ids["late"]
    assert [
        (o["name"], o["person"], o["org"], o["body"], o["unit"], o["suspended"], o["total"]) for o in rep.by_org
    ] == [
        ("Sở Khoa học và Công nghệ", 2, 1, 0, 2, 1, 5),
        ("Sở Y tế", 2, 1, 0, 0, 0, 3),
        ("xã Ninh Phước", 0, 0, 3, 0, 0, 3),
    ]
    assert rep.totals == {"person": 4, "org": 2, "body": 3, "unit": 2, "suspended": 1, "total": 11}
    assert {op: per for op, per in rep.changes.items() if any(per.values())} == {
        "create": {10: 0, 11: 0, 12: 1},  # Tám only: the adopted mailboxes were not created
        "adopt": {10: 2, 11: 0, 12: 0},
        "reset": {10: 1, 11: 1, 12: 0},
        "suspend": {10: 0, 11: 1, 12: 0},
        "move": {10: 0, 11: 1, 12: 0},
    }
    assert rep.deadline == {"requests": 5, "on_time": 4, "late": 1, "pending": 0, "average_days": 1.5}
    assert [(x["received"], x["due"], x["applied"], x["accounts"]) for x in rep.late] == [
        (dt.date(2026, 12, 1), dt.date(2026, 12, 8), None, ["lvtam@khanhhoa.gov.vn"])
    ]
    assert [n for _, n in rep.over_time][-4:] == [2, 3, 3, 4]  # people only, at each month end


def _docx(path):
    import docx

    document = docx.Document(str(path))
    return [p.text for p in document.paragraphs], [
        [[c.text for c in row.cells] for row in t.rows] for t in document.tables
    ]


def test_reply_letters_go_to_the_commune_committee_and_to_both_units_of_a_transfer(quarter, tmp_path, capsys):
    r, ids = quarter
    assert main(["reply", ids["ubnd"], "--output-dir", str(tmp_path), "--repo", str(r.path)]) == 0
    paragraphs, tables = _docx(tmp_path / f"tra-loi-{ids['ubnd'][:10]}-ninhphuoc.docx")
    assert "Kính gửi: Ủy ban nhân dân xã Ninh Phước" in paragraphs
    assert not any("'" in p or '"' in p for p in paragraphs if p.startswith("Kính gửi"))
    body = next(p for p in paragraphs if p.startswith("Thực hiện Quy chế"))
    assert "đề nghị của Ủy ban nhân dân xã Ninh Phước ngày 25/11/2026" in body
    assert tables[1][1] == [
        "1",
        "Ủy ban nhân dân xã Ninh Phước",
        "",
        "ubndninhphuoc@khanhhoa.gov.vn",
        "Cấp lại mật khẩu",
    ]

    capsys.readouterr()
    assert main(["reply", ids["transfer"], "--output-dir", str(tmp_path), "--repo", str(r.path)]) == 0
    out = capsys.readouterr().out
    assert "Sở Khoa học và Công nghệ, 1 account(s)" in out and "Sở Y tế, 1 account(s)" in out
    for org, name in (("skhcn", "Sở Khoa học và Công nghệ"), ("syt", "Sở Y tế")):
        paragraphs, tables = _docx(tmp_path / f"tra-loi-{ids['transfer'][:10]}-{org}.docx")
        assert f"Kính gửi: {name}" in paragraphs
        assert tables[1][1][3:] == [
            "ttmai@khanhhoa.gov.vn",
            "Chuyển đơn vị: từ Sở Khoa học và Công nghệ sang Sở Y tế",
        ]
    # applied despite drift in the same apply: the reply is allowed
    assert main(["reply", ids["reset"], "--output-dir", str(tmp_path), "--repo", str(r.path)]) == 0
    # approved but never applied: refused
    assert main(["reply", ids["late"], "--output-dir", str(tmp_path), "--repo", str(r.path)]) == 1


def test_addressee_of_wards_and_the_special_zone():
    from govmail.workflow.reply import addressee

    assert addressee("Phan Rang", "ward") == "Ủy ban nhân dân phường Phan Rang"
    assert addressee("Trường Sa", "special_zone") == "Ủy ban nhân dân đặc khu Trường Sa"
    assert addressee("Sở Y tế", "province_body") == "Sở Y tế"
