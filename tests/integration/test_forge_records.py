"""Issue 11 §3 and issue 10 §3, §7 on a real Git history and recorded forge API answers.

Who asked, who approved and when come from the forge at merge time (a ``govmail-request/1`` record
beside the apply record), for merge, squash and rebase merges on GitHub and GitLab; ``history``,
``sla``, ``reply`` read it first. A merge nobody of the approvers approved is refused before the apply
and the refusal recorded. The records are signed and a changed one is noticed.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from forge_fixtures import Recorded, fixture
from gitrepo import Repo
from govmail.cli.main import main
from govmail.workflow import forge, records, reply, sla
from govmail.workflow.gitlog import Git
from govmail.workflow.history import History
from helpers import PROVINCE, REPO

pytestmark = pytest.mark.integration

APPROVER = "ttcds-duyet"
PROVINCE_FORGE = PROVINCE.replace("approvers: [ttcds]", f"approvers: [{APPROVER}]")
SKHCN = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn-it]}
people:
  - {name: Nguyễn Văn Bình, title: Chuyên viên, address: nvbinh@khanhhoa.gov.vn}
"""
MAI = "  - {name: Trần Thị Mai, title: Chuyên viên, address: ttmai@khanhhoa.gov.vn}\n"
AN = "  - {name: Nguyễn Văn An, title: Chuyên viên, address: nvan@khanhhoa.gov.vn}\n"
CUONG = "  - {name: Lê Văn Cường, title: Chuyên viên, address: lvcuong@khanhhoa.gov.vn}\n"
HOA = "  - {name: Đỗ Thị Hoa, title: Chuyên viên, address: dthoa@khanhhoa.gov.vn}\n"


class Forge:
    """Recorded answers for one forge, added request by request as the test merges them."""

    def __init__(self, kind: str):
        self.kind = kind
        self.transport = Recorded()
        env = (
            {"GITHUB_REPOSITORY": "khanhhoa/govmail", "GITHUB_API_URL": "https://api.github.com"}
            if kind == "github"
            else {"CI_API_V4_URL": "https://gitlab.khanhhoa.gov.vn/api/v4", "CI_PROJECT_ID": "4021"}
        )
        self.forge = forge.Forge.from_env(kind, self.transport, env)

    def merged(
        self,
        number: int,
        *,
        head: str,
        base: str,
        main_commits: list[str],
        opened: str,
        merged: str,
        method: str,
        approver: str = APPROVER,
        branch_commits: list[str] | None = None,
    ) -> None:
        values = {
            "NUMBER": number,
            "HEAD": head,
            "BASE": base,
            "OPENED": opened,
            "MERGED": merged,
            "APPROVED": merged,
            "TITLE": f"Đề nghị số {number}",
        }
        last = main_commits[-1]
        if self.kind == "github":
            self.transport.add(
                f"GET /repos/khanhhoa/govmail/pulls/{number}",
                fixture("github/pull.json", STATE="closed", MERGE=last, COMMITS=len(branch_commits or [1]), **values),
            )
            reviews = "reviews-approved" if approver == APPROVER else "reviews-unit-only"
            self.transport.add(
                f"GET /repos/khanhhoa/govmail/pulls/{number}/reviews", fixture(f"github/{reviews}.json", **values)
            )
            for sha in main_commits:
                self.transport.add(
                    f"GET /repos/khanhhoa/govmail/commits/{sha}/pulls",
                    fixture("github/commit-pulls.json", MERGE=last, **values),
                )
            return
        merge_sha = last if method == "merge" else None
        squash_sha = last if method == "squash" else None
        common = {"MERGE_OR_NULL": merge_sha, "SQUASH_OR_NULL": squash_sha, **values}
        self.transport.add(
            f"GET /projects/4021/merge_requests/{number}",
            fixture("gitlab/merge-request.json", SQUASH=method == "squash", **common),
        )
        self.transport.add(
            f"GET /projects/4021/merge_requests/{number}/approvals",
            fixture("gitlab/approvals.json", APPROVER=approver, **values),
        )
        commits = [{"id": c, "short_id": c[:8], "title": "x"} for c in (branch_commits or [head])]
        self.transport.add(
            f"GET /projects/4021/merge_requests/{number}/commits", fixture("gitlab/commits.json", COMMIT_LIST=commits)
        )
        for sha in main_commits:
            self.transport.add(
                f"GET /projects/4021/repository/commits/{sha}/merge_requests",
                fixture("gitlab/commit-merge-requests.json", **common),
            )


def apply_record(git: Git, commit: str, finished: str, addresses: list[str]) -> None:
    records.add(
        git,
        commit,
        {
            "format": records.FORMAT,
            "commit": commit,
            "started": finished,
            "finished": finished,
            "check_mode": False,
            "accounts_dir": "accounts",
            "summary": {"total": len(addresses)},
            "changes": [{"op": "create", "address": a, "result": "ok"} for a in addresses],
        },
    )


def build(tmp_path: Path, kind: str) -> tuple[Repo, Git, Forge, dict[str, str]]:
    """Three requests reach main: #/!12 by a merge commit, 13 squashed, 14 rebased (two commits)."""
    repo = Repo(tmp_path / "repo")
    f = Forge(kind)
    setup = repo.commit(
        "setup",
        {"accounts/province.yaml": PROVINCE_FORGE, "accounts/skhcn.yaml": SKHCN},
        when="2026-01-02T09:00:00+07:00",
    )
    sha = {"setup": setup}
    # 12: the clerk's machine says 2 January; the request was opened on Monday 5 January, 09:00
    repo.branch("r12")
    sha["head12"] = repo.commit(
        "Tạo mới Trần Thị Mai", {"accounts/skhcn.yaml": SKHCN + MAI}, who="skhcn-it", when="2026-01-02T08:00:00+07:00"
    )
    sha["merge12"] = repo.merge("r12", who="github", when="2026-01-07T10:00:00+07:00")
    f.merged(
        12,
        head=sha["head12"],
        base=setup,
        main_commits=[sha["merge12"]],
        opened="2026-01-05T02:00:00Z",
        merged="2026-01-07T03:00:00Z",
        method="merge",
    )
    # 13: opened Monday 12 January; "Squash and merge" on 20 January makes that the author date
    repo.branch("r13")
    sha["head13"] = repo.commit(
        "Tạo mới Nguyễn Văn An",
        {"accounts/skhcn.yaml": SKHCN + MAI + AN},
        who="skhcn-it",
        when="2026-01-12T09:00:00+07:00",
    )
    sha["squash13"] = repo.squash(
        "r13",
        "Tạo mới Nguyễn Văn An (#13)",
        author="skhcn-it",
        authored="2026-01-20T10:00:00+07:00",
        who="github",
        when="2026-01-20T10:00:00+07:00",
    )
    f.merged(
        13,
        head=sha["head13"],
        base=sha["merge12"],
        main_commits=[sha["squash13"]],
        opened="2026-01-12T02:00:00Z",
        merged="2026-01-20T03:00:00Z",
        method="squash",
    )
    # 14: two commits, rebased onto main (GitHub: new commits; GitLab: fast-forward, the same ones)
    repo.branch("r14")
    b1 = repo.commit(
        "Tạo mới Lê Văn Cường",
        {"accounts/skhcn.yaml": SKHCN + MAI + AN + CUONG},
        who="skhcn-it",
        when="2026-01-15T09:00:00+07:00",
    )
    b2 = repo.commit(
        "Sửa chức vụ",
        {"accounts/skhcn.yaml": SKHCN + MAI + AN + CUONG.replace("Chuyên viên", "Phó Trưởng phòng")},
        who="skhcn-it",
        when="2026-01-15T09:30:00+07:00",
    )
    repo.checkout("main")
    if kind == "gitlab":
        repo.git("merge", "-q", "--ff-only", "r14")
        main14 = [b1, b2]
    else:
        main14 = [
            repo.commit(
                "Tạo mới Lê Văn Cường",
                {"accounts/skhcn.yaml": SKHCN + MAI + AN + CUONG},
                who="skhcn-it",
                when="2026-01-21T10:00:00+07:00",
            )
        ]
        main14.append(
            repo.commit(
                "Sửa chức vụ",
                {"accounts/skhcn.yaml": SKHCN + MAI + AN + CUONG.replace("Chuyên viên", "Phó Trưởng phòng")},
                who="skhcn-it",
                when="2026-01-21T10:00:00+07:00",
            )
        )
    sha["rebase14"] = main14
    f.merged(
        14,
        head=b2,
        base=sha["squash13"],
        main_commits=main14,
        opened="2026-01-15T02:00:00Z",
        merged="2026-01-21T03:00:00Z",
        method="rebase",
        branch_commits=[b1, b2],
    )
    return repo, Git(repo.path), f, sha


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_the_merge_records_who_asked_who_approved_and_when(tmp_path, kind):
    repo, git, f, sha = build(tmp_path, kind)
    # the apply after 12 (the first under this check: only its own commit is looked up)
    ok, lines = forge.check_merges(git, f.forge, sha["merge12"])
    assert ok, lines
    apply_record(git, sha["merge12"], "2026-01-07T03:30:00Z", ["ttmai@khanhhoa.gov.vn"])
    # one apply after 13 and 14 (a queued run was skipped): every merged commit since is recorded
    tip = sha["rebase14"][-1]
    ok, lines = forge.check_merges(git, f.forge, tip)
    assert ok, lines
    trail = records.load(git)
    got = {c: (r["number"], r["method"], r["author"], r["approvers"], r["opened"]) for c, r in trail.requests.items()}
    assert got == {
        sha["merge12"]: (12, "merge", "skhcn-it", [APPROVER], "2026-01-05T02:00:00Z"),
        sha["squash13"]: (13, "squash", "skhcn-it", [APPROVER], "2026-01-12T02:00:00Z"),
        sha["rebase14"][0]: (14, "rebase", "skhcn-it", [APPROVER], "2026-01-15T02:00:00Z"),
        sha["rebase14"][1]: (14, "rebase", "skhcn-it", [APPROVER], "2026-01-15T02:00:00Z"),
    }
    assert all(r["merged_by"] == APPROVER for r in trail.requests.values())

    history = History(git)
    # history: the approver is the forge's approver, not "GitHub" (the merge button's committer)
    [created] = history.of("ttmai@khanhhoa.gov.vn")
    as_json = created.as_dict()
    assert as_json["requested"]["author"] == "skhcn-it"
    assert as_json["requested"]["date"] == "2026-01-05T02:00:00+00:00"
    assert as_json["approved"]["approvers"] == [APPROVER]
    assert as_json["approved"]["method"] == "merge"
    assert created.merge.committer == "GitHub"  # what the commit alone says
    assert main(["history", "ttmai", "--repo", str(repo.path)]) == 0

    # sla: received = opened, so the squash merge's author date (20/1) does not hide the wait
    table = {r.commit: r for r in sla.rows(history, today=dt.date(2026, 1, 21))}
    squash = table[sha["squash13"]]
    assert squash.received.date() == dt.date(2026, 1, 12) and squash.source == "forge"
    assert squash.due == dt.date(2026, 1, 19)
    assert squash.late  # by the commit's date alone it would look received the day it was merged
    assert table[sha["merge12"]].received.date() == dt.date(2026, 1, 5)
    assert table[sha["merge12"]].days_to_apply == 2 and not table[sha["merge12"]].late
    for c in sha["rebase14"]:
        assert table[c].request == ("#14" if kind == "github" else "!14")
        assert table[c].received.date() == dt.date(2026, 1, 15)


def test_older_history_falls_back_to_the_commits(tmp_path):
    _repo, git, _, sha = build(tmp_path, "github")
    history = History(git)  # no forge record at all
    table = {r.commit: r for r in sla.rows(history, today=dt.date(2026, 1, 21))}
    assert table[sha["merge12"]].received.date() == dt.date(2026, 1, 2)  # the first commit's author date
    assert table[sha["merge12"]].source == "commit"
    assert table[sha["squash13"]].received.date() == dt.date(2026, 1, 20)


def test_reply_sent_is_recorded_and_sla_measures_to_it(tmp_path, capsys):
    repo, git, f, sha = build(tmp_path, "github")
    forge.check_merges(git, f.forge, sha["merge12"])
    apply_record(git, sha["merge12"], "2026-01-07T03:30:00Z", ["ttmai@khanhhoa.gov.vn"])
    # the letter cannot be sent before the apply
    args = ["reply", "#12", "--repo", str(repo.path), "--sent"]
    assert main([*args, "2026-01-06"]) == 1
    assert "would precede the apply" in capsys.readouterr().err
    assert main([*args, "2026-01-13"]) == 0  # found by the forge record's number
    row = next(r for r in sla.rows(History(git), today=dt.date(2026, 1, 21)) if r.commit == sha["merge12"])
    assert row.replied == dt.date(2026, 1, 13)
    assert row.days_to_reply == 6
    assert row.late  # applied on time (7/1) but the written reply went out after the deadline (12/1)
    assert reply.find_commit(git, History(git), "#12") == sha["merge12"]


def test_a_merge_without_an_approvers_approval_is_refused_and_the_refusal_recorded(tmp_path):
    repo, git, f, sha = build(tmp_path, "github")
    tip = sha["rebase14"][-1]
    assert forge.check_merges(git, f.forge, tip)[0]
    repo.branch("r15")
    head = repo.commit("Tạo mới Đỗ Thị Hoa", {"accounts/skhcn.yaml": SKHCN + MAI + AN + CUONG + HOA}, who="skhcn-it")
    merge = repo.merge("r15", who="github", when="2026-01-22T10:00:00+07:00")
    f.merged(
        15,
        head=head,
        base=tip,
        main_commits=[merge],
        opened="2026-01-21T02:00:00Z",
        merged="2026-01-22T03:00:00Z",
        method="merge",
        approver="skhcn-lead",
    )
    ok, lines = forge.check_merges(git, f.forge, merge)
    assert not ok
    assert f"REFUSED {merge[:10]}: #15: no approver approved its final commit {head[:10]}" in lines[-1]
    trail = records.load(git)
    assert merge not in trail.requests
    [refusal] = trail.refusals[merge]
    assert refusal["format"] == "govmail-refused/1" and "approved only by skhcn-lead" in refusal["why"]


def test_open_and_refused_requests_from_an_exported_list(tmp_path, capsys):
    listing = tmp_path / "pulls.json"
    listing.write_text(json.dumps(fixture("github/pulls-list.json")), encoding="utf-8")
    assert main(["sla", "--open", "--requests", str(listing), "--today", "2026-01-21", "--strict"]) == 1
    out = capsys.readouterr().out
    assert "LATE #21" in out  # opened 2/1, due 9/1, still open
    assert "ok   #22" in out  # opened 19/1
    assert "2 open request(s); 1 past the 5-working-day deadline (R7.2b)." in out
    table = sla.unmerged(forge.listed(fixture("gitlab/merge-requests-list.json")), dt.date(2026, 1, 21))
    assert [(r.number, r.late) for r in table] == [(31, True)]
    refused = sla.rejected(forge.listed(fixture("github/pulls-list.json")), dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert [r.number for r in refused] == [18]


def test_the_quarterly_report_counts_refused_and_late_open_requests(tmp_path):
    repo, _git, _f, _sha = build(tmp_path, "github")
    listing = tmp_path / "pulls.json"
    listing.write_text(json.dumps(fixture("github/pulls-list.json")), encoding="utf-8")
    out = tmp_path / "bao-cao"
    args = ["report", "--quarter", "2026Q1", "--today", "2026-01-21", "--repo", str(repo.path)]
    assert main([*args, "--requests", str(listing), "--output", str(out)]) == 0
    text = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "- Bị từ chối (đóng, không thực hiện): 1" in text
    assert "- Chưa duyệt, đã quá hạn: 1" in text


# --- tamper evidence (issue 10 §7) -----------------------------------------------------------------


def signing_key(tmp_path: Path) -> tuple[Path, str]:
    key = tmp_path / "record-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "govmail-apply", "-f", str(key)], check=True)
    public = (tmp_path / "record-key.pub").read_text(encoding="utf-8").split()
    return key, f'govmail-apply namespaces="govmail-record" {public[0]} {public[1]}\n'


def test_signed_records_verify_and_a_changed_one_is_noticed_and_ignored(tmp_path, capsys):
    repo, git, f, sha = build(tmp_path, "github")
    key, signers = signing_key(tmp_path)
    repo.commit("signers", {".govmail/record-signers": signers}, when="2026-01-21T12:00:00+07:00")
    ok, _ = forge.check_merges(git, f.forge, sha["merge12"], sign_key=str(key))
    assert ok
    assert main(["records", "verify", "--repo", str(repo.path)]) == 0
    assert "1 record(s) verify (signed by a key in .govmail/record-signers); 0 do not." in capsys.readouterr().out

    # someone with push rights rewrites the note: "approved by the unit itself" becomes "by TTCĐS"
    note = git.run("notes", f"--ref={records.NOTES_REF}", "show", sha["merge12"])
    forged = json.loads(note)
    forged["opened"] = "2026-01-06T02:00:00Z"
    git.run("notes", f"--ref={records.NOTES_REF}", "add", "-f", "-m", json.dumps(forged), sha["merge12"])
    assert main(["records", "verify", "--repo", str(repo.path)]) == 1
    err = capsys.readouterr().err
    assert f"REFUSED {records.NOTES_REF} {sha['merge12'][:10]} line 1: bad signature" in err
    history = History(git)
    assert history.trail.requests == {}  # the forged record is not believed
    row = next(r for r in sla.rows(history, today=dt.date(2026, 1, 21)) if r.commit == sha["merge12"])
    assert row.source == "commit"

    # an unsigned record, and a good record copied onto another commit, are refused too
    git.run(
        "notes",
        f"--ref={records.NOTES_REF}",
        "add",
        "-f",
        "-m",
        json.dumps(forged | {"signature": None}),
        sha["merge12"],
    )
    signed = records.sign({**forged, "commit": sha["merge12"]}, key)
    git.run("notes", f"--ref={records.NOTES_REF}", "add", "-f", "-m", json.dumps(signed), sha["squash13"])
    problems = records.load(git).problems
    assert any("line 1: not signed" in p for p in problems)
    assert any(f"names commit {sha['merge12'][:10]}, not this one" in p for p in problems)


# --- bin/ci apply against a forge on 127.0.0.1 -----------------------------------------------------


class _Serve(http.server.BaseHTTPRequestHandler):
    transport: Recorded

    def do_GET(self):
        status, _headers, body = self.transport("GET", f"https://api.github.com{self.path}", dict(self.headers), None)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status, _, answer = self.transport("POST", f"https://api.github.com{self.path}", dict(self.headers), body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


FAKE_PLAYBOOK = """\
#!/bin/sh
set -e
touch "$APPLY_MARKER"
commit=$(git rev-parse HEAD)
cat > var/reports/apply-20260122T100005Z.json <<JSON
{"format": "govmail-apply/1", "commit": "$commit", "started": "2026-01-22T10:00:00Z",
 "finished": "2026-01-22T10:00:05Z", "check_mode": false, "accounts_dir": "accounts", "summary": {"total": 0},
 "changes": [], "archives": [], "notified": []}
JSON
"""


@pytest.fixture
def served():
    handler = type("Handler", (_Serve,), {"transport": None})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def run_apply(work: Path, api: str, tmp_path: Path, **extra) -> subprocess.CompletedProcess:
    fake = tmp_path / "fake-playbook"
    fake.write_text(FAKE_PLAYBOOK, encoding="utf-8")
    fake.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@example.invalid",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@example.invalid",
        "CI_FORGE": "github",
        "GITHUB_REPOSITORY": "khanhhoa/govmail",
        "GITHUB_API_URL": api,
        "ANSIBLE_PLAYBOOK": str(fake),
        "APPLY_MARKER": str(tmp_path / "applied"),
        "CI_PUSH_NOTES": "1",
        **extra,
    }
    return subprocess.run(
        [str(work / "bin/ci"), "apply"], cwd=work, env=env, capture_output=True, text=True, check=False
    )


def test_bin_ci_apply_refuses_an_unapproved_merge_records_why_and_applies_an_approved_one(tmp_path, served):
    handler, api = served
    repo, _git, f, _sha = build(tmp_path, "github")
    (repo.path / "bin").mkdir()
    shutil.copy(REPO / "bin/ci", repo.path / "bin/ci")
    repo.commit("bin/ci", when="2026-01-21T12:00:00+07:00")
    handler.transport = f.transport
    tip = repo.git("rev-parse", "HEAD")
    # the direct commit of bin/ci has no request: refused, nothing applied, the refusal pushed
    work = tmp_path / "runner"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(work)], check=True)
    res = run_apply(work, api, tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "nothing was applied" in res.stderr
    assert not (tmp_path / "applied").exists()
    note = repo.git("notes", f"--ref={records.NOTES_REF}", "show", tip)
    assert json.loads(note)["format"] == "govmail-refused/1"
    assert "no merged request found" in json.loads(note)["why"]

    # an approved merge after it: the refused commit is judged again and still refused — it cannot
    # ride along with the next approved merge
    repo.branch("r15", tip)
    head = repo.commit("Tạo mới Đỗ Thị Hoa", {"accounts/skhcn.yaml": SKHCN + MAI + AN + CUONG + HOA}, who="skhcn-it")
    merge = repo.merge("r15", who="github", when="2026-01-22T10:00:00+07:00")
    f.merged(
        15,
        head=head,
        base=tip,
        main_commits=[merge],
        opened="2026-01-21T02:00:00Z",
        merged="2026-01-22T03:00:00Z",
        method="merge",
    )
    subprocess.run(
        ["git", "pull", "-q", "--ff-only"], cwd=work, check=True, env={**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null"}
    )
    res = run_apply(work, api, tmp_path)
    assert res.returncode == 1
    assert f"REFUSED {tip[:10]}: no merged request found" in res.stdout
    assert not (tmp_path / "applied").exists()
    # an approver lets it through by name (a manual run gated by the production environment)
    res = run_apply(work, api, tmp_path, CI_ACCEPT=tip, CI_ACCEPT_BY=APPROVER, CI_ACCEPT_WHY="bin/ci reviewed in #16")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "applied").exists()
    accepted = [json.loads(x) for x in repo.git("notes", f"--ref={records.NOTES_REF}", "show", tip).splitlines()]
    # (the second, identical refusal is not written twice)
    assert [(r["format"], r.get("by")) for r in accepted] == [
        ("govmail-refused/1", None),
        ("govmail-accepted/1", APPROVER),
    ]
    kinds = [
        json.loads(line)["format"]
        for line in repo.git("notes", f"--ref={records.NOTES_REF}", "show", merge).splitlines()
    ]
    assert kinds == [
        "govmail-refused/1",
        "govmail-request/1",
        "govmail-apply/1",
    ]  # refused once, for the earlier commit


def test_bin_ci_apply_refuses_a_rewritten_record(tmp_path, served):
    handler, api = served
    repo, git, f, sha = build(tmp_path, "github")
    (repo.path / "bin").mkdir()
    shutil.copy(REPO / "bin/ci", repo.path / "bin/ci")
    repo.commit("bin/ci", when="2026-01-21T12:00:00+07:00")
    handler.transport = f.transport
    apply_record(git, sha["merge12"], "2026-01-07T03:30:00Z", ["ttmai@khanhhoa.gov.vn"])
    work = tmp_path / "runner"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(work)], check=True)
    subprocess.run(["git", "fetch", "-q", "origin", f"{records.NOTES_REF}:{records.NOTES_REF}"], cwd=work, check=True)
    # on the forge, the record is replaced by another history (force-pushed)
    repo.git("update-ref", "-d", records.NOTES_REF)
    apply_record(git, sha["squash13"], "2026-01-20T03:30:00Z", ["nvan@khanhhoa.gov.vn"])
    res = run_apply(work, api, tmp_path)
    assert res.returncode == 1
    assert "was rewritten" in res.stderr
    assert not (tmp_path / "applied").exists()


def test_bin_ci_apply_refuses_a_record_removed_by_a_later_notes_commit(tmp_path, served):
    """A fast-forward that removes a record (git notes add -f on top) is noticed too."""
    handler, api = served
    repo, git, f, sha = build(tmp_path, "github")
    (repo.path / "bin").mkdir()
    shutil.copy(REPO / "bin/ci", repo.path / "bin/ci")
    repo.commit("bin/ci", when="2026-01-21T12:00:00+07:00")
    handler.transport = f.transport
    apply_record(git, sha["merge12"], "2026-01-07T03:30:00Z", ["ttmai@khanhhoa.gov.vn"])
    work = tmp_path / "runner"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(work)], check=True)
    subprocess.run(["git", "fetch", "-q", "origin", f"{records.NOTES_REF}:{records.NOTES_REF}"], cwd=work, check=True)
    repo.git("notes", f"--ref={records.NOTES_REF}", "remove", sha["merge12"])  # a descendant, one record fewer
    res = run_apply(work, api, tmp_path)
    assert res.returncode == 1
    assert f"{sha['merge12'][:10]}: a record present before is gone" in res.stderr
    assert not (tmp_path / "applied").exists()


def test_the_approval_status_check_as_approval_yml_runs_it(tmp_path, served):
    """bin/ci approval (approval.yml's step): reads the reviews, sets govmail/approval on the head commit."""
    handler, api = served
    repo, _git, f, sha = build(tmp_path, "github")
    (repo.path / "bin").mkdir()
    shutil.copy(REPO / "bin/ci", repo.path / "bin/ci")
    repo.commit("bin/ci", when="2026-01-21T12:00:00+07:00")
    handler.transport = f.transport
    repo.branch("r15")
    head = repo.commit("Tạo mới Đỗ Thị Hoa", {"accounts/skhcn.yaml": SKHCN + MAI + AN + CUONG + HOA}, who="skhcn-it")
    repo.checkout("main")
    f.merged(
        15,
        head=head,
        base=sha["setup"],
        main_commits=[head],
        opened="2026-01-21T02:00:00Z",
        merged="2026-01-22T03:00:00Z",
        method="merge",
        approver="skhcn-lead",
    )
    f.transport.add(f"POST /repos/khanhhoa/govmail/statuses/{head}", {"state": "failure"}, status=201)
    step = yaml.safe_load((REPO / ".github/workflows/approval.yml").read_text(encoding="utf-8"))
    run = step["jobs"]["approval"]["steps"][-1]
    assert run["env"]["CI_FORGE"] == "github" and "bin/ci approval" in run["run"]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "CI_FORGE": "github",
        "CI_PR": "15",
        "GITHUB_REPOSITORY": "khanhhoa/govmail",
        "GITHUB_API_URL": api,
        "GOVMAIL_SET_STATUS": "1",
    }
    res = subprocess.run(
        ["bash", "-e", "-c", run["run"]], cwd=repo.path, env=env, capture_output=True, text=True, check=False
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert (
        f"REFUSED  #15: no approver approved its final commit {head[:10]} (approved only by skhcn-lead)" in res.stdout
    )
    method, url, _, body = f.transport.calls[-1]
    assert (method, url) == ("POST", f"https://api.github.com/repos/khanhhoa/govmail/statuses/{head}")
    assert json.loads(body) | {"description": ""} == {
        "state": "failure",
        "context": "govmail/approval",
        "description": "",
    }
    # the approver approves: the same step passes and says so on the commit
    values = {"NUMBER": 15, "HEAD": head, "OPENED": "2026-01-21T02:00:00Z", "APPROVED": "2026-01-21T09:00:00Z"}
    f.transport.add("GET /repos/khanhhoa/govmail/pulls/15/reviews", fixture("github/reviews-approved.json", **values))
    res = subprocess.run(
        ["bash", "-e", "-c", run["run"]], cwd=repo.path, env=env, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(f.transport.calls[-1][3])["state"] == "success"
