"""history, sla and record on a real Git repository with several authors, merges, a squash merge and holidays.

The story (dates in Vietnam time):
1. 2026-01-05 TTCĐS sets up the files (direct commit): Nguyễn Văn Bình, Phạm Quốc Huy at Sở KH&CN.
2. Sở KH&CN asks for Trần Thị Mai on Thu 12/2 (branch, merged --no-ff on 24/2). Tết: 16–20/2 are holidays,
   so the deadline is Thu 26/2; applied on 27/2 → 6 working days, late.
3. Sở KH&CN asks to suspend Bình on Wed 29/4 (squash merge on Mon 4/5): 30/4 and 1/5 are holidays, due 8/5;
   applied on 4/5 → 1 working day.
4. TTCĐS moves Mai to Sở Y tế on Fri 28/8 (merged 3/9): 31/8 (substituted day off), 1/9 and 2/9 are holidays,
   due Wed 9/9; applied 9/9 → exactly 5 working days, on time.
5. Sở KH&CN asks to revoke Bình on Mon 5/10 and, in a second commit on 6/10, a reset for Huy (merged 7/10);
   never applied: on 14/10 it is 7 working days old, late.
"""

import datetime as dt
import json
import re

import pytest

from gitrepo import Repo
from govmail.cli.main import main
from govmail.workflow.gitlog import Git
from govmail.workflow.history import History
from govmail.workflow.sla import deadline, working_days_between
from helpers import PROVINCE

pytestmark = pytest.mark.integration

HEAD = "org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn-it]}\n"
SYT = "org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt-tccb]}\npeople:\n"
BINH = "  - name: Nguyễn Văn Bình\n    title: Trưởng phòng\n    address: nvbinh@khanhhoa.gov.vn\n"
HUY = "  - name: Phạm Quốc Huy\n    title: Chuyên viên\n    address: pqhuy@khanhhoa.gov.vn\n"
MAI = "  - name: Trần Thị Mai\n    title: Chuyên viên\n    address: ttmai@khanhhoa.gov.vn\n"


def report(commit, finished, changes, check_mode=False):
    return {
        "format": "govmail-apply/1",
        "commit": commit,
        "started": finished,
        "finished": finished,
        "check_mode": check_mode,
        "accounts_dir": "accounts",
        "summary": {"total": len(changes), "by_op": {}, "by_org": {}},
        "changes": [
            {
                "op": op,
                "address": address,
                "kind": "person",
                "org": "skhcn",
                "unit": None,
                "name": "x",
                "status": "active",
                "changes": {},
                "reason": None,
                "result": "ok",
                "error": None,
            }
            for op, address in changes
        ],
        "archives": [],
        "notified": [],
    }


def record(repo, tmp_path, data, name):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["record", str(path), "--repo", str(repo.path)]) == 0


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    r = Repo(tmp / "repo")
    ids = {}
    ids["setup"] = r.commit(
        "Set up the accounts",
        {
            "accounts/province.yaml": PROVINCE,
            "accounts/skhcn.yaml": HEAD + "people:\n" + BINH + HUY,
            "accounts/syt.yaml": SYT + "  - {name: Trần Thị Hoa, title: Bác sĩ, address: tthoa@khanhhoa.gov.vn}\n",
        },
        when="2026-01-05T09:00:00+07:00",
    )

    r.branch("mai")
    ids["mai-req"] = r.commit(
        "Đề nghị tạo tài khoản Trần Thị Mai",
        {"accounts/skhcn.yaml": HEAD + "people:\n" + BINH + HUY + MAI},
        who="skhcn-it",
        when="2026-02-12T15:30:00+07:00",
    )
    ids["mai"] = r.merge("mai", when="2026-02-24T09:00:00+07:00")
    record(r, tmp, report(ids["mai"], "2026-02-27T03:00:00Z", [("create", "ttmai@khanhhoa.gov.vn")]), "r1")

    r.branch("suspend")
    suspended = BINH + "    status: suspended\n    reason: compromised lộ mật khẩu\n    since: 2026-04-29\n"
    r.commit(
        "Tạm khóa nvbinh",
        {"accounts/skhcn.yaml": HEAD + "people:\n" + suspended + HUY + MAI},
        who="skhcn-it",
        when="2026-04-29T08:00:00+07:00",
    )
    ids["suspend"] = r.squash(
        "suspend",
        "Tạm khóa nvbinh (#2)",
        author="skhcn-it",
        authored="2026-04-29T08:00:00+07:00",
        when="2026-05-04T10:00:00+07:00",
    )
    record(r, tmp, report(ids["suspend"], "2026-05-04T04:00:00Z", [("suspend", "nvbinh@khanhhoa.gov.vn")]), "r2")

    r.branch("move")
    ids["move-req"] = r.commit(
        "Chuyển Trần Thị Mai sang Sở Y tế",
        {
            "accounts/skhcn.yaml": HEAD + "people:\n" + suspended + HUY,
            "accounts/syt.yaml": SYT
            + "  - {name: Trần Thị Hoa, title: Bác sĩ, address: tthoa@khanhhoa.gov.vn}\n"
            + MAI.replace("Chuyên viên", "Phó Trưởng phòng"),
        },
        when="2026-08-28T10:00:00+07:00",
    )
    ids["move"] = r.merge("move", when="2026-09-03T08:00:00+07:00")
    # a dry run (check mode) is not an apply; the real one follows
    record(
        r, tmp, report(ids["move"], "2026-09-03T02:00:00Z", [("move", "ttmai@khanhhoa.gov.vn")], check_mode=True), "r3"
    )
    record(
        r,
        tmp,
        report(
            ids["move"],
            "2026-09-09T09:00:00Z",
            [("move", "ttmai@khanhhoa.gov.vn"), ("update", "ttmai@khanhhoa.gov.vn")],
        ),
        "r4",
    )

    r.branch("revoke")
    revoked = BINH + "    status: revoked\n    reason: retired\n    since: 2026-10-05\n"
    ids["revoke-req"] = r.commit(
        "Thu hồi nvbinh",
        {"accounts/skhcn.yaml": HEAD + "people:\n" + revoked + HUY},
        who="skhcn-it",
        when="2026-10-05T09:00:00+07:00",
    )
    r.commit(
        "Cấp lại mật khẩu pqhuy",
        {"accounts/skhcn.yaml": HEAD + "people:\n" + revoked + HUY + '    reset: "2026-10-06"\n'},
        who="skhcn-it",
        when="2026-10-06T09:00:00+07:00",
    )
    ids["revoke"] = r.merge("revoke", when="2026-10-07T16:00:00+07:00")
    return r, ids


def test_working_days_skip_weekends_tet_and_the_april_may_and_september_holidays():

    assert deadline(dt.date(2026, 2, 12)) == dt.date(2026, 2, 26)  # Tết 16–20/2
    assert deadline(dt.date(2026, 4, 29)) == dt.date(2026, 5, 8)  # 30/4, 1/5
    assert deadline(dt.date(2026, 8, 28)) == dt.date(2026, 9, 9)  # 31/8, 1/9, 2/9
    assert deadline(dt.date(2026, 11, 23)) == dt.date(2026, 12, 1)  # 24/11 Ngày Văn hóa Việt Nam
    assert working_days_between(dt.date(2026, 2, 12), dt.date(2026, 2, 27)) == 6
    assert working_days_between(dt.date(2026, 2, 14), dt.date(2026, 2, 20)) == 0


def test_history_of_a_person_created_by_merge_moved_to_another_file(story, capsys):
    r, ids = story
    events = History(Git(r.path)).of("ttmai@khanhhoa.gov.vn")
    assert [(e.ops, e.requested.sha, e.merge.sha) for e in events] == [
        (["create"], ids["mai-req"], ids["mai"]),
        (["move", "update"], ids["move-req"], ids["move"]),
    ]
    assert events[1].changes == {"org": ["skhcn", "syt"], "title": ["Chuyên viên", "Phó Trưởng phòng"]}
    assert events[0].applied == {"commit": ids["mai"], "finished": "2026-02-27T03:00:00Z", "result": "ok"}
    assert events[1].applied["finished"] == "2026-09-09T09:00:00Z"  # not the check-mode run
    assert main(["history", "ttmai", "--repo", str(r.path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:6] == [
        "History of ttmai@khanhhoa.gov.vn",
        "create: Trần Thị Mai, Chuyên viên, skhcn",
        f"  requested 2026-02-12 15:30 by Phạm Quốc Huy <skhcn@khanhhoa.gov.vn> in {ids['mai-req'][:10]} "
        "(Đề nghị tạo tài khoản Trần Thị Mai)",
        f"  merged 2026-02-24 09:00 by Lê Văn Duyệt in {ids['mai'][:10]}",
        f"  applied 2026-02-27 10:00 (ok) at {ids['mai'][:10]}",
        "move, update: org: 'skhcn' → 'syt'; title: 'Chuyên viên' → 'Phó Trưởng phòng'",
    ]


def test_history_of_a_person_through_a_squash_merge_suspension_and_revocation(story, capsys):
    r, ids = story
    events = History(Git(r.path)).of("nvbinh@khanhhoa.gov.vn")
    assert [(e.ops, e.reason, e.requested.author, e.merge.sha) for e in events] == [
        (["create"], None, "Lê Văn Duyệt", ids["setup"]),
        (["suspend"], "compromised lộ mật khẩu", "Phạm Quốc Huy", ids["suspend"]),
        (["revoke"], "retired", "Phạm Quốc Huy", ids["revoke"]),
    ]
    assert events[1].requested.sha == ids["suspend"]  # squash: the approved commit carries the requester
    assert events[2].requested.sha == ids["revoke-req"]
    assert events[2].applied is None
    assert main(["history", "nvbinh", "--format", "json", "--repo", str(r.path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[1]["approved"] == {
        "commit": ids["suspend"],
        "merged_by": "Lê Văn Duyệt",
        "date": "2026-05-04T10:00:00+07:00",
        "merge": False,
    }
    assert main(["history", "nobody", "--repo", str(r.path)]) == 1


def test_sla_counts_working_days_and_flags_late_requests(story, capsys):
    r, ids = story
    assert (
        main(["sla", "--since", "2026-02-01", "--today", "2026-10-14", "--format", "json", "--repo", str(r.path)]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    got = [
        (x["commit"], x["received"][:10], x["due"], x["working_days_to_approve"], x["working_days_to_apply"], x["late"])
        for x in rows
    ]
    assert got == [
        (ids["mai"], "2026-02-12", "2026-02-26", 3, 6, True),
        (ids["suspend"], "2026-04-29", "2026-05-08", 1, 1, False),
        (ids["move"], "2026-08-28", "2026-09-09", 1, 5, False),
        (ids["revoke"], "2026-10-05", "2026-10-12", 2, None, True),
    ]
    assert rows[3]["accounts"] == ["nvbinh@khanhhoa.gov.vn", "pqhuy@khanhhoa.gov.vn"]
    assert main(["sla", "--since", "2026-02-01", "--today", "2026-10-14", "--strict", "--repo", str(r.path)]) == 1
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == "4 request(s); 2 within 5 working days, 2 past the deadline (R7.2b)."
    )


def test_record_refuses_bad_reports_and_keeps_one_line_per_apply(story, tmp_path, capsys):
    r, ids = story
    bad = report(ids["revoke"], "2026-10-08T01:00:00Z", [("revoke", "nvbinh@khanhhoa.gov.vn")])
    bad["changes"][0]["password"] = "x"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    assert main(["record", str(path), "--repo", str(r.path)]) == 1
    assert "changes[0].password: a report must never carry a secret" in capsys.readouterr().err
    path.write_text('{"format": "other"}', encoding="utf-8")
    assert main(["record", str(path), "--repo", str(r.path)]) == 1
    assert "format: expected 'govmail-apply/1', got 'other'" in capsys.readouterr().err
    path.write_text("{", encoding="utf-8")
    assert main(["record", str(path), "--repo", str(r.path)]) == 1
    assert f"{path}:1: not JSON" in capsys.readouterr().err
    notes = r.git("notes", "--ref=refs/notes/govmail-apply", "show", ids["move"])
    assert len(notes.splitlines()) == 2  # the check-mode run and the real apply
    record(
        r,
        tmp_path,
        report(
            ids["move"],
            "2026-09-09T09:00:00Z",
            [("move", "ttmai@khanhhoa.gov.vn"), ("update", "ttmai@khanhhoa.gov.vn")],
        ),
        "again",
    )
    assert r.git("notes", "--ref=refs/notes/govmail-apply", "show", ids["move"]) == notes


def test_quarterly_report_figures(story):
    from govmail.workflow.report import Quarter, build

    r, ids = story
    rep = build(History(Git(r.path)), Quarter.parse("2026Q2"), today=dt.date(2026, 11, 28))
    assert rep.as_of == dt.date(2026, 6, 30)
    assert rep.commit == ids["suspend"]
    assert [(o["name"], o["person"], o["org"], o["suspended"], o["total"]) for o in rep.by_org] == [
        ("Sở Khoa học và Công nghệ", 3, 1, 1, 4),
        ("Sở Y tế", 1, 1, 0, 2),
    ]
    assert rep.totals == {"person": 4, "org": 2, "body": 0, "unit": 0, "suspended": 1, "total": 6}
    assert {op: per for op, per in rep.changes.items() if any(per.values())} == {"suspend": {4: 0, 5: 1, 6: 0}}
    assert rep.deadline == {"requests": 1, "on_time": 1, "late": 0, "pending": 0, "average_days": 1.0}
    assert rep.incidents == [
        {
            "date": dt.date(2026, 5, 4),
            "address": "nvbinh@khanhhoa.gov.vn",
            "op": "Tạm khóa",
            "reason": "compromised lộ mật khẩu",
            "code": "compromised",
        }
    ]
    assert [n for _, n in rep.over_time] == [0, 0, 0, 0, 0, 0, 3, 4, 4, 4, 4, 4]

    q4 = build(History(Git(r.path)), Quarter.parse("2026Q4"), today=dt.date(2026, 10, 14))
    assert q4.as_of == dt.date(2026, 10, 14)
    assert {op: per for op, per in q4.changes.items() if any(per.values())} == {
        "revoke": {10: 1, 11: 0, 12: 0},
        "reset": {10: 1, 11: 0, 12: 0},
    }
    assert q4.deadline == {"requests": 1, "on_time": 0, "late": 1, "pending": 0, "average_days": None}
    assert q4.late[0]["accounts"] == ["nvbinh@khanhhoa.gov.vn", "pqhuy@khanhhoa.gov.vn"]
    assert q4.totals["person"] == 3  # Bình revoked: no longer counted
    assert [d for d, _ in q4.over_time][-1] == dt.date(2026, 10, 14)


def test_quarterly_report_documents_open_and_say_it(story, tmp_path, capsys):
    import subprocess

    r, _ = story
    out = tmp_path / "q2"
    assert (
        main(["report", "--quarter", "2026Q2", "--today", "2026-11-28", "--output", str(out), "--repo", str(r.path)])
        == 0
    )
    md = (tmp_path / "q2.md").read_text(encoding="utf-8")
    assert "Quý II năm 2026 (từ 01/04/2026 đến 30/06/2026)" in md
    assert "| Sở Khoa học và Công nghệ | 3 | 1 | 0 | 0 | 1 | 4 |" in md
    assert "| Tạm khóa | 0 | 1 | 0 | 1 |" in md
    assert "| 04/05/2026 | nvbinh@khanhhoa.gov.vn | Tạm khóa | compromised lộ mật khẩu |" in md
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "q2.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    assert "BÁO CÁO TÌNH HÌNH VẬN HÀNH VÀ SỬ DỤNG HỆ THỐNG THƯ ĐIỆN TỬ CÔNG VỤ TỈNH KHÁNH HÒA" in text
    assert "Quý II năm 2026" in text
    assert "Sở Khoa học và Công nghệ" in text
    assert "compromised lộ mật khẩu" in text
    assert "Biến động tài khoản theo tháng" not in text  # chart titles are pictures, not text
    pages = subprocess.run(["pdfinfo", str(tmp_path / "q2.pdf")], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+2$", pages, re.M)
    assert main(["report", "--quarter", "2026Q5", "--repo", str(r.path)]) == 1
    assert "'2026Q5' is not a quarter like 2026Q4" in capsys.readouterr().err


def _docx_text(path):
    import docx

    doc = docx.Document(str(path))
    paragraphs = [p.text for p in doc.paragraphs]
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    return paragraphs, tables


def test_reply_letter_for_a_merged_and_applied_request(story, tmp_path, capsys):
    r, ids = story
    assert (
        main(
            [
                "reply",
                ids["mai"],
                "--number",
                "15/TTCĐS-KT",
                "--signer",
                "Lê Văn Duyệt",
                "--output-dir",
                str(tmp_path),
                "--repo",
                str(r.path),
            ]
        )
        == 0
    )
    path = tmp_path / f"tra-loi-{ids['mai'][:10]}-skhcn.docx"
    assert f"Wrote {path}: Sở Khoa học và Công nghệ, 1 account(s)." in capsys.readouterr().out
    paragraphs, tables = _docx_text(path)
    head = tables[0][0]
    assert head[0].split("\n") == [
        "SỞ KHOA HỌC VÀ CÔNG NGHỆ",
        "TRUNG TÂM CHUYỂN ĐỔI SỐ",
        "Số: 15/TTCĐS-KT",
        "V/v trả lời đề nghị về tài khoản thư điện tử công vụ",
    ]
    assert head[1].split("\n")[:3] == [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Khánh Hòa, ngày 27 tháng 02 năm 2026",
    ]
    assert "Kính gửi: Sở Khoa học và Công nghệ" in paragraphs
    body = next(p for p in paragraphs if p.startswith("Thực hiện Quy chế"))
    assert "đề nghị của Sở Khoa học và Công nghệ ngày 12/02/2026 và đã thực hiện xong ngày 27/02/2026" in body
    assert tables[1] == [
        ["STT", "Họ và tên", "Chức vụ", "Địa chỉ thư điện tử", "Nội dung"],
        ["1", "Trần Thị Mai", "Chuyên viên", "ttmai@khanhhoa.gov.vn", "Tạo mới tài khoản"],
    ]
    assert tables[2][0][1].split("\n")[-1] == "Lê Văn Duyệt"
    assert not any("mật khẩu:" in p.lower() for p in paragraphs)  # never a password in a letter


def test_reply_by_pull_request_number_and_refusals(story, tmp_path, capsys):
    r, ids = story
    assert main(["reply", "#2", "--output-dir", str(tmp_path), "--repo", str(r.path)]) == 0
    _, tables = _docx_text(tmp_path / f"tra-loi-{ids['suspend'][:10]}-skhcn.docx")
    assert tables[1][1] == [
        "1",
        "Nguyễn Văn Bình",
        "Trưởng phòng",
        "nvbinh@khanhhoa.gov.vn",
        "Tạm khóa tài khoản (bị xâm phạm, lộ mật khẩu)",
    ]
    assert main(["reply", "#2", "--format", "pdf", "--output-dir", str(tmp_path), "--repo", str(r.path)]) == 0
    import subprocess

    pdf = tmp_path / f"tra-loi-{ids['suspend'][:10]}-skhcn.pdf"
    text = " ".join(
        subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split()
    )
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Khánh Hòa, ngày 04 tháng 05 năm 2026",
        "Kính gửi: Sở Khoa học và Công nghệ",
        "nvbinh@khanhhoa.gov.vn",
        "Nơi nhận:",
        "GIÁM ĐỐC",
    ):
        assert expected in text
    capsys.readouterr()
    assert main(["reply", ids["revoke"], "--output-dir", str(tmp_path), "--repo", str(r.path)]) == 1
    assert "has not been applied yet" in capsys.readouterr().err
    assert main(["reply", "#99", "--output-dir", str(tmp_path), "--repo", str(r.path)]) == 1
    assert "neither a commit nor a merged pull request number" in capsys.readouterr().err


def test_request_whose_address_was_allocated_in_a_later_commit_and_applied_after_a_failure(tmp_path, capsys):
    r = Repo(tmp_path / "repo")
    r.commit(
        "setup",
        {"accounts/province.yaml": PROVINCE, "accounts/skhcn.yaml": HEAD + "people:\n" + BINH},
        when="2026-03-02T09:00:00+07:00",
    )
    r.branch("mai")
    first = r.commit(
        "Đề nghị tạo tài khoản",
        {"accounts/skhcn.yaml": HEAD + "people:\n" + BINH + "  - name: Trần Thị Mai\n    title: Chuyên viên\n"},
        who="skhcn-it",
        when="2026-03-03T09:00:00+07:00",
    )
    r.commit(
        "govmail allocate",
        {"accounts/skhcn.yaml": HEAD + "people:\n" + BINH + MAI},
        who="skhcn-it",
        when="2026-03-04T09:00:00+07:00",
    )
    r.checkout("main")
    r.git(
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'mai' into 'main'\n\nSee merge request khanhhoa/govmail!7",
        "mai",
        when="2026-03-05T09:00:00+07:00",
    )
    merge = r.git("rev-parse", "HEAD")
    failed = report(merge, "2026-03-05T03:00:00Z", [("create", "ttmai@khanhhoa.gov.vn")])
    failed["changes"][0].update(result="error", error="ldap: server down")
    record(r, tmp_path, failed, "failed")
    record(r, tmp_path, report(merge, "2026-03-06T03:00:00Z", [("create", "ttmai@khanhhoa.gov.vn")]), "ok")

    [event] = History(Git(r.path)).of("ttmai@khanhhoa.gov.vn")
    assert event.requested.sha == first  # the entry appeared (without its address) in the first commit
    assert event.applied == {"commit": merge, "finished": "2026-03-06T03:00:00Z", "result": "ok"}
    assert main(["reply", "!7", "--output-dir", str(tmp_path), "--repo", str(r.path)]) == 0
    assert f"tra-loi-{merge[:10]}-skhcn.docx" in capsys.readouterr().out
