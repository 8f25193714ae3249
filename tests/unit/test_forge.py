"""Issue 10 §3: the approval rule and the forge settings, on recorded GitHub and GitLab API answers."""

from __future__ import annotations

import http.server
import threading

import pytest

from forge_fixtures import Recorded, fixture
from govmail.cli.main import main
from govmail.workflow import forge

HEAD = "a1" * 20
OLD = "b2" * 20
BASE = "c3" * 20
MERGE = "d4" * 20
GH = {"GITHUB_REPOSITORY": "khanhhoa/govmail", "GITHUB_API_URL": "https://api.github.com"}
GL = {"CI_API_V4_URL": "https://gitlab.khanhhoa.gov.vn/api/v4", "CI_PROJECT_ID": "4021"}
TIMES = {"OPENED": "2026-01-05T02:00:00Z", "MERGED": "2026-01-07T03:00:00Z", "APPROVED": "2026-01-06T08:00:00Z"}


def github(reviews: str, number: int = 12, **extra) -> forge.Forge:
    values = {"NUMBER": number, "HEAD": HEAD, "OLD": OLD, "BASE": BASE, "MERGE": MERGE, "COMMITS": 1, **TIMES}
    pr = fixture("github/pull.json", STATE="closed", TITLE="Tạo mới tài khoản Trần Thị Mai", **values)
    transport = Recorded(
        {
            f"GET /repos/khanhhoa/govmail/pulls/{number}": pr,
            f"GET /repos/khanhhoa/govmail/pulls/{number}/reviews": fixture(f"github/{reviews}.json", **values),
            "GET /orgs/khanhhoa/teams/ttcds/members": fixture("github/team-members.json"),
            **extra,
        }
    )
    return forge.Forge.from_env("github", transport, GH)


def gitlab(approver: str, number: int = 5) -> forge.Forge:
    values = {"NUMBER": number, "HEAD": HEAD, "BASE": BASE, "TITLE": "Tạo mới tài khoản Trần Thị Mai", **TIMES}
    mr = fixture("gitlab/merge-request.json", MERGE_OR_NULL=MERGE, SQUASH_OR_NULL=None, SQUASH=False, **values)
    approvals = fixture("gitlab/approvals.json", APPROVER=approver, **values)
    commits = fixture("gitlab/commits.json", COMMIT_LIST=[{"id": HEAD, "short_id": HEAD[:8], "title": "x"}])
    transport = Recorded(
        {
            f"GET /projects/4021/merge_requests/{number}": mr,
            f"GET /projects/4021/merge_requests/{number}/approvals": approvals,
            f"GET /projects/4021/merge_requests/{number}/commits": commits,
        }
    )
    return forge.Forge.from_env("gitlab", transport, {**GL, "GOVMAIL_FORGE_TOKEN": "t-" + "x" * 8})


def test_github_an_approvers_approval_of_the_final_commit_passes():
    verdict = forge.judge(github("reviews-approved"), 12, ["ttcds-duyet"])
    assert verdict.ok
    assert verdict.approvers == ["ttcds-duyet"]
    assert verdict.why() == f"#12: approved by ttcds-duyet on its final commit {HEAD[:10]}"
    # the request's facts, for the record
    r = verdict.request
    assert (r.author, r.opened, r.merged, r.merged_by, r.head) == (
        "skhcn-it",
        "2026-01-05T02:00:00Z",
        "2026-01-07T03:00:00Z",
        "ttcds-duyet",
        HEAD,
    )


@pytest.mark.parametrize(
    ("reviews", "why"),
    [
        ("reviews-unit-only", "approved only by skhcn-lead"),  # the unit approved its own request
        ("reviews-stale", "approved only by ttcds-duyet"),  # the approval was of an earlier commit
        ("reviews-withdrawn", "no approver approved"),  # approved, then changes requested
    ],
)
def test_github_no_approvers_approval_of_the_final_commit_is_refused(reviews, why):
    verdict = forge.judge(github(reviews), 12, ["ttcds-duyet"])
    assert not verdict.ok
    assert why in verdict.why()


def test_github_approvers_given_as_a_team_are_expanded():
    assert forge.judge(github("reviews-approved"), 12, ["khanhhoa/ttcds"]).ok
    assert not forge.judge(github("reviews-unit-only"), 12, ["khanhhoa/ttcds"]).ok


def test_the_author_never_counts_as_approver():
    # an approver who opened the request cannot approve it alone
    verdict = forge.judge(github("reviews-approved"), 12, ["skhcn-it"])
    assert not verdict.ok


def test_gitlab_approval_by_an_approver_passes_by_the_unit_is_refused():
    assert forge.judge(gitlab("ttcds-duyet"), 5, ["ttcds-duyet"]).ok
    verdict = forge.judge(gitlab("skhcn-lead"), 5, ["ttcds-duyet"])
    assert not verdict.ok
    assert verdict.why() == f"!5: no approver approved its final commit {HEAD[:10]} (approved only by skhcn-lead)"


def test_the_status_check_posts_the_verdict_on_the_head_commit():
    f = github("reviews-unit-only")
    f.api.transport.add(f"POST /repos/khanhhoa/govmail/statuses/{HEAD}", {"state": "failure"}, status=201)
    verdict = forge.judge(f, 12, ["ttcds-duyet"])
    f.set_status(verdict.request.head, verdict.ok, verdict.why())
    method, url, _headers, body = f.api.transport.calls[-1]
    assert (method, url) == ("POST", f"https://api.github.com/repos/khanhhoa/govmail/statuses/{HEAD}")
    assert b'"state": "failure"' in body and b'"context": "govmail/approval"' in body


def test_reviews_are_read_across_pages():
    f = github("reviews-unit-only")
    page2 = fixture("github/reviews-approved.json", NUMBER=12, HEAD=HEAD, **TIMES)
    f.api.transport.add(
        "GET /repos/khanhhoa/govmail/pulls/12/reviews",
        fixture("github/reviews-unit-only.json", NUMBER=12, HEAD=HEAD, **TIMES),
        headers={"Link": '<https://api.github.com/repositories/1/pulls/12/reviews?per_page=100&page=2>; rel="next"'},
    )
    f.api.transport.add("GET /repositories/1/pulls/12/reviews?page=2", page2)
    assert forge.judge(f, 12, ["ttcds-duyet"]).ok


def test_a_next_page_outside_the_forge_is_refused():
    f = github("reviews-unit-only")
    f.api.transport.add(
        "GET /repos/khanhhoa/govmail/pulls/12/reviews",
        [],
        headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'},
    )
    with pytest.raises(forge.ForgeError, match="outside the forge"):
        forge.judge(f, 12, ["ttcds-duyet"])


def doctor_github(protection: str, capsys) -> tuple[int, str]:
    transport = Recorded(
        {
            "GET /repos/khanhhoa/govmail/branches/main/protection": fixture(f"github/{protection}.json"),
            "GET /repos/khanhhoa/govmail/environments/production": fixture("github/environment-production.json"),
            "GET /repos/khanhhoa/govmail/actions/permissions/workflow": fixture("github/workflow-permissions.json"),
        }
    )
    findings = forge.doctor(forge.Forge.from_env("github", transport, GH))
    return sum(1 for f in findings if not f.ok), "\n".join(map(str, findings))


def test_doctor_github_all_set(capsys):
    missing, text = doctor_github("branch-protection", capsys)
    assert missing == 0, text


def test_doctor_github_says_what_is_missing(capsys):
    missing, text = doctor_github("branch-protection-weak", capsys)
    for line in (
        "MISSING stale approvals dismissed",
        "MISSING approval of the most recent push",
        "MISSING required check govmail/approval",
        "MISSING branch up to date before merging",
        "MISSING no bypass for administrators",
        "MISSING no force push",
    ):
        assert line in text
    assert missing == 6
    assert "ok      code owner review" in text


def test_doctor_github_unprotected_branch(capsys):
    transport = Recorded()
    transport.add("GET /repos/khanhhoa/govmail/branches/main/protection", fixture("github/not-found.json"), 404)
    findings = forge.doctor(forge.Forge.from_env("github", transport, GH))
    assert str(findings[0]) == ("MISSING branch protection on main — Settings → Branches → add a rule for it")
    assert sum(1 for f in findings if not f.ok) == len(findings) - 2  # only "no deletion", "no force push" hold


def gitlab_doctor_transport(weak: bool) -> Recorded:
    suffix = "-weak" if weak else ""
    return Recorded(
        {
            "GET /projects/4021/protected_branches/main": fixture(f"gitlab/protected-branch{suffix}.json"),
            "GET /projects/4021": fixture(f"gitlab/project{suffix}.json"),
            "GET /projects/4021/approvals": fixture(f"gitlab/project-approvals{suffix}.json"),
            "GET /projects/4021/variables": fixture(f"gitlab/variables{suffix}.json"),
        }
    )


def test_doctor_gitlab_all_set_and_what_is_missing():
    good = forge.doctor(forge.Forge.from_env("gitlab", gitlab_doctor_transport(False), GL))
    assert all(f.ok for f in good), "\n".join(map(str, good))
    weak = forge.doctor(forge.Forge.from_env("gitlab", gitlab_doctor_transport(True), GL))
    text = "\n".join(map(str, weak))
    for setting in (
        "nobody pushes to main",
        "code owner approval required",
        "pipelines must succeed",
        "the CI configuration is read from the default branch",
        "approvals removed on a new push",
        "authors cannot approve",
        "committers cannot approve",
        "approval rules cannot be changed in a merge request",
        "every GOVMAIL_* variable protected — protect GOVMAIL_LDAP_URI, GOVMAIL_NOTE_TOKEN",
    ):
        assert f"MISSING {setting}" in text, setting
    assert "ok      no force push" in text


def test_doctor_command_reads_the_api(monkeypatch, capsys):
    transport = gitlab_doctor_transport(True)
    monkeypatch.setattr(forge, "urllib_transport", transport)  # the network, as recorded
    for key, value in GL.items():
        monkeypatch.setenv(key, value)
    assert main(["doctor", "--forge", "gitlab"]) == 1
    out = capsys.readouterr().out
    assert "MISSING code owner approval required" in out
    assert out.rstrip().endswith("settings in place, see docs/security.md.")


def test_listed_reads_both_forges_lists():
    gh = forge.listed(fixture("github/pulls-list.json"))
    assert [(x.number, x.state) for x in gh] == [(21, "open"), (22, "open"), (18, "closed"), (12, "merged")]
    gl = forge.listed(fixture("gitlab/merge-requests-list.json"))
    assert [(x.number, x.state, x.author) for x in gl] == [(31, "open", "syt-tccb"), (28, "closed", "skhcn-it")]
    with pytest.raises(forge.ForgeError):
        forge.listed({"not": "a list"})


class _Big(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"[" + b"0," * (forge.MAX_BYTES // 2 + 10) + b"0]"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_http_answers_are_size_limited_and_only_https_is_spoken():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Big)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/big"
        with pytest.raises(forge.ForgeError, match="larger than"):
            forge.urllib_transport("GET", url, {}, None)
    finally:
        server.shutdown()
    with pytest.raises(forge.ForgeError, match="not https"):
        forge.urllib_transport("GET", "http://api.github.example/repos", {}, None)
