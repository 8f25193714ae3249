"""The forge's word: who asked, who approved, when — read through GitHub's or GitLab's API.

Everything here is data from the forge, read with urllib (timeouts, a size limit per answer, a page
limit) and parsed as JSON; nothing from it is executed or trusted for more than it says. Three uses:

- the approval check (issue 10 §3): a request passes only when a member of ``approvers:`` approved
  its **final commit** (GitHub: an ``APPROVED`` review on the head commit, not superseded by a later
  "changes requested" or a dismissal; GitLab: an approval of the merge request, whose approvals the
  project resets on every push — ``doctor`` checks that setting);
- the request record (issue 11 §3): at merge time, the number, opened time, author, approvers,
  merge time and method, kept as a ``govmail-request/1`` record beside the apply record;
- ``doctor``: the branch-protection settings the operator must switch on, and what is missing.

See docs/security.md.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from . import records
from .gitlog import Git

TIMEOUT = 20  # seconds per HTTP request
MAX_BYTES = 4 * 1024 * 1024  # per answer
MAX_PAGES = 20
STATUS_CONTEXT = "govmail/approval"
CHECK_NAME = "validate, allocate, owners, scope"


class ForgeError(RuntimeError):
    """The forge could not be read, or answered something unexpected; the message says what."""


# A transport takes (method, url, headers, body) and returns (status, headers, body bytes).
Transport = Callable[[str, str, dict, bytes | None], tuple[int, dict, bytes]]


def urllib_transport(method: str, url: str, headers: dict, body: bytes | None) -> tuple[int, dict, bytes]:
    if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
        raise ForgeError(f"refusing a forge address that is not https: {url}")
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            data = answer.read(MAX_BYTES + 1)
            status, got = answer.status, dict(answer.headers.items())
    except urllib.error.HTTPError as exc:
        data, status, got = exc.read(MAX_BYTES + 1), exc.code, dict(exc.headers.items())
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ForgeError(f"{method} {url}: {exc}") from exc
    if len(data) > MAX_BYTES:
        raise ForgeError(f"{method} {url}: the answer is larger than {MAX_BYTES} bytes")
    return status, got, data


@dataclass
class Api:
    """One forge's REST API: base URL, the token header, a transport (urllib, or recorded answers)."""

    base: str
    headers: dict
    transport: Transport = urllib_transport

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[object, dict]:
        url = path if path.startswith(("https://", "http://")) else self.base.rstrip("/") + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, "Accept": "application/json", "User-Agent": "govmail"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        status, got, raw = self.transport(method, url, headers, data)
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ForgeError(f"{method} {path}: the answer is not JSON") from exc
        if status == 404:
            return None, got
        if status >= 400:
            message = parsed.get("message") if isinstance(parsed, dict) else None
            raise ForgeError(f"{method} {path}: HTTP {status}{': ' + str(message) if message else ''}")
        return parsed, {k.lower(): v for k, v in got.items()}

    def get(self, path: str) -> object:
        return self.call("GET", path)[0]

    def pages(self, path: str) -> list:
        """Every item of a paginated list (the ``Link: <…>; rel="next"`` header of both forges)."""
        out, url = [], path + ("&" if "?" in path else "?") + "per_page=100"
        for _ in range(MAX_PAGES):
            page, headers = self.call("GET", url)
            if page is None:
                return out
            if not isinstance(page, list):
                raise ForgeError(f"GET {path}: expected a list")
            out += page
            match = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("link", ""))
            if not match:
                return out
            url = match.group(1)
            if not url.startswith(self.base.split("/api/")[0].rstrip("/")) and not url.startswith(self.base):
                raise ForgeError(f"GET {path}: the next page points outside the forge: {url}")
        raise ForgeError(f"GET {path}: more than {MAX_PAGES} pages")


def _dict(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise ForgeError(f"{what}: the forge's answer is not an object")
    return value


def _login(user: object) -> str | None:
    return user.get("login") or user.get("username") if isinstance(user, dict) else None


@dataclass
class Request:
    """A pull / merge request as the forge knows it."""

    forge: str
    number: int
    title: str
    url: str
    author: str
    opened: str
    state: str  # open, merged, closed (closed without merging: rejected)
    head: str
    merged: str | None = None
    merged_by: str | None = None
    merge_commit: str | None = None
    commits: int = 1
    squash: bool = False
    commit_ids: list[str] = field(default_factory=list)  # GitLab: the request's own commits
    approvals: list[dict] = field(default_factory=list)  # {user, commit, at} that count now

    def approvers_among(self, approvers: set[str]) -> list[str]:
        """The approvers who approved the final commit (never the author)."""
        out = []
        for a in self.approvals:
            user = str(a["user"]).lower()
            if user in approvers and user != self.author.lower() and a.get("commit") in (None, self.head):
                out.append(a["user"])
        return sorted(set(out))


# --- GitHub ---------------------------------------------------------------------------------------


def github_api(transport: Transport | None = None, environ: dict | None = None) -> tuple[Api, str]:
    env = os.environ if environ is None else environ
    repo = env.get("GITHUB_REPOSITORY") or ""
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise ForgeError("set GITHUB_REPOSITORY to owner/name")
    headers = {"X-GitHub-Api-Version": "2022-11-28"}
    if env.get("GITHUB_TOKEN"):
        headers["Authorization"] = f"Bearer {env['GITHUB_TOKEN']}"
    return Api(env.get("GITHUB_API_URL") or "https://api.github.com", headers, transport or urllib_transport), repo


def github_request(api: Api, repo: str, number: int) -> Request:
    pr = _dict(api.get(f"/repos/{repo}/pulls/{number}"), f"pull request #{number}")
    reviews = api.pages(f"/repos/{repo}/pulls/{number}/reviews")
    latest: dict[str, dict] = {}  # per reviewer, the last review that carries a verdict
    for review in reviews:
        if not isinstance(review, dict):
            continue
        state, user = review.get("state"), _login(review.get("user"))
        if user and state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[user] = review
    approvals = [
        {"user": user, "commit": r.get("commit_id"), "at": r.get("submitted_at")}
        for user, r in latest.items()
        if r.get("state") == "APPROVED"
    ]
    merged = pr.get("merged_at")
    return Request(
        forge="github",
        number=int(pr["number"]),
        title=str(pr.get("title") or ""),
        url=str(pr.get("html_url") or ""),
        author=_login(pr.get("user")) or "?",
        opened=str(pr.get("created_at")),
        state="merged" if merged else ("open" if pr.get("state") == "open" else "closed"),
        head=str(_dict(pr.get("head"), "head").get("sha")),
        merged=merged,
        merged_by=_login(pr.get("merged_by")),
        merge_commit=pr.get("merge_commit_sha") if merged else None,
        commits=int(pr.get("commits") or 1),
        approvals=approvals,
    )


def github_requests_of(api: Api, repo: str, sha: str) -> list[int]:
    """The merged pull requests a main-line commit belongs to."""
    found = api.get(f"/repos/{repo}/commits/{sha}/pulls") or []
    return [int(p["number"]) for p in found if isinstance(p, dict) and p.get("merged_at")]


def github_open(api: Api, repo: str, state: str = "open") -> list[dict]:
    return [p for p in api.pages(f"/repos/{repo}/pulls?state={state}") if isinstance(p, dict)]


def github_team(api: Api, team: str) -> set[str]:
    org, slug = team.split("/", 1)
    return {str(_login(m)).lower() for m in api.pages(f"/orgs/{org}/teams/{slug}/members") if _login(m)}


# --- GitLab ---------------------------------------------------------------------------------------


def gitlab_api(transport: Transport | None = None, environ: dict | None = None) -> tuple[Api, str]:
    env = os.environ if environ is None else environ
    project = env.get("CI_PROJECT_ID") or ""
    base = env.get("CI_API_V4_URL") or ""
    if not project or not base:
        raise ForgeError("set CI_API_V4_URL and CI_PROJECT_ID (GitLab CI sets both)")
    headers = {"PRIVATE-TOKEN": env["GOVMAIL_FORGE_TOKEN"]} if env.get("GOVMAIL_FORGE_TOKEN") else {}
    return Api(base, headers, transport or urllib_transport), urllib.parse.quote(project, safe="")


def gitlab_request(api: Api, project: str, iid: int) -> Request:
    mr = _dict(api.get(f"/projects/{project}/merge_requests/{iid}"), f"merge request !{iid}")
    approvals = _dict(api.get(f"/projects/{project}/merge_requests/{iid}/approvals") or {}, "approvals")
    commits = api.pages(f"/projects/{project}/merge_requests/{iid}/commits")
    approved = [
        {"user": _login(a.get("user")), "commit": None, "at": None}
        for a in approvals.get("approved_by") or []
        if isinstance(a, dict) and _login(a.get("user"))
    ]
    merged = mr.get("merged_at")
    state = {"opened": "open", "merged": "merged", "locked": "open"}.get(mr.get("state"), "closed")
    return Request(
        forge="gitlab",
        number=int(mr["iid"]),
        title=str(mr.get("title") or ""),
        url=str(mr.get("web_url") or ""),
        author=_login(mr.get("author")) or "?",
        opened=str(mr.get("created_at")),
        state=state,
        head=str(mr.get("sha")),
        merged=merged,
        merged_by=_login(mr.get("merge_user")) or _login(mr.get("merged_by")),
        merge_commit=mr.get("squash_commit_sha") or mr.get("merge_commit_sha") or (mr.get("sha") if merged else None),
        commits=len(commits) or 1,
        squash=bool(mr.get("squash")),
        commit_ids=[str(c.get("id")) for c in commits if isinstance(c, dict)],
        approvals=approved,
    )


def gitlab_requests_of(api: Api, project: str, sha: str) -> list[int]:
    found = api.get(f"/projects/{project}/repository/commits/{sha}/merge_requests") or []
    return [int(m["iid"]) for m in found if isinstance(m, dict) and m.get("state") == "merged"]


def gitlab_open(api: Api, project: str, state: str = "opened") -> list[dict]:
    return [m for m in api.pages(f"/projects/{project}/merge_requests?state={state}") if isinstance(m, dict)]


def gitlab_team(api: Api, group: str) -> set[str]:
    path = urllib.parse.quote(group, safe="")
    return {str(_login(m)).lower() for m in api.pages(f"/groups/{path}/members/all") if _login(m)}


# --- the forge-neutral face -------------------------------------------------------------------------


@dataclass
class Forge:
    kind: str  # github | gitlab
    api: Api
    project: str

    @classmethod
    def from_env(cls, kind: str, transport: Transport | None = None, environ: dict | None = None) -> Forge:
        if kind == "github":
            api, project = github_api(transport, environ)
        elif kind == "gitlab":
            api, project = gitlab_api(transport, environ)
        else:
            raise ForgeError(f"unknown forge {kind!r}: github or gitlab")
        return cls(kind, api, project)

    def request(self, number: int) -> Request:
        if self.kind == "github":
            return github_request(self.api, self.project, number)
        return gitlab_request(self.api, self.project, number)

    def requests_of(self, sha: str) -> list[int]:
        if self.kind == "github":
            return github_requests_of(self.api, self.project, sha)
        return gitlab_requests_of(self.api, self.project, sha)

    def members(self, approvers: list[str]) -> set[str]:
        """The approvers as forge logins: users as they are, teams (``org/team``) expanded."""
        out = set()
        for a in approvers:
            name = str(a).lstrip("@")
            if "/" in name:
                out |= github_team(self.api, name) if self.kind == "github" else gitlab_team(self.api, name)
            else:
                out.add(name.lower())
        return out

    def set_status(self, sha: str, ok: bool, description: str) -> None:
        if self.kind != "github":
            raise ForgeError("commit statuses are set on GitHub only (GitLab: CODEOWNERS sections and the pipeline)")
        body = {"state": "success" if ok else "failure", "context": STATUS_CONTEXT, "description": description[:140]}
        self.api.call("POST", f"/repos/{self.project}/statuses/{sha}", body)

    def listed(self, state: str) -> list[dict]:
        """The forge's own list of requests (open, or closed) as plain dicts."""
        if self.kind == "github":
            return github_open(self.api, self.project, "open" if state == "open" else "closed")
        return gitlab_open(self.api, self.project, "opened" if state == "open" else "closed")


@dataclass
class Verdict:
    request: Request
    approvers: list[str]  # who of the approvers approved the final commit

    @property
    def ok(self) -> bool:
        return bool(self.approvers)

    def why(self) -> str:
        r = self.request
        ref = f"{'#' if r.forge == 'github' else '!'}{r.number}"
        if self.ok:
            return f"{ref}: approved by {', '.join(self.approvers)} on its final commit {r.head[:10]}"
        others = [a["user"] for a in r.approvals]
        detail = f" (approved only by {', '.join(sorted(others))})" if others else ""
        return f"{ref}: no approver approved its final commit {r.head[:10]}{detail}"


def judge(forge: Forge, number: int, approvers: list[str]) -> Verdict:
    request = forge.request(number)
    return Verdict(request, request.approvers_among(forge.members(approvers)))


def request_record(verdict: Verdict, commit: str, method: str) -> dict:
    """The ``govmail-request/1`` record of a merged request, for the main-line commit ``commit``."""
    r = verdict.request
    approved_at = max((a["at"] for a in r.approvals if a.get("at") and a["user"] in verdict.approvers), default=None)
    return {
        "format": "govmail-request/1",
        "commit": commit,
        "forge": r.forge,
        "number": r.number,
        "title": r.title,
        "url": r.url,
        "author": r.author,
        "opened": r.opened,
        "approvers": verdict.approvers,
        "approved": approved_at or r.merged,
        "merged": r.merged,
        "merged_by": r.merged_by,
        "method": method,
        "head": r.head,
    }


def refusal_record(commit: str, why: str, verdict: Verdict | None = None) -> dict:
    out = {"format": "govmail-refused/1", "commit": commit, "why": why}
    if verdict is not None:
        out.update(forge=verdict.request.forge, number=verdict.request.number, author=verdict.request.author)
    return out


def approvers_at(git: Git, rev: str, accounts: str = "accounts") -> list[str]:
    """``approvers:`` of province.yaml at ``rev`` (the base: a request cannot name its own approvers)."""
    text = git.show(rev, f"{accounts}/province.yaml")
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        data = None
    found = data.get("approvers") if isinstance(data, dict) else None
    if not isinstance(found, list) or not found:
        raise ForgeError(f"{accounts}/province.yaml at {rev[:10]}: no approvers")
    return [str(a) for a in found]


def pending(git: Git, trail: records.Trail, tip: str, limit: int = 50) -> list[str]:
    """Main-line commits from ``tip`` back to the last one the record covers (an apply, a request
    record, an approver's acceptance), newest first. A refusal covers nothing: a refused commit is
    judged again by every later apply, so it cannot ride along with the next approved merge. With no
    covered commit within ``limit`` (the first apply under this check): ``tip`` and the refused ones."""
    covered = set(trail.requests) | set(trail.accepted) | {c for c, _ in trail.applies}
    out = []
    for sha in git.run("rev-list", "--first-parent", f"--max-count={limit}", tip).split():
        if sha in covered:
            return out
        out.append(sha)
    return [sha for sha in out if sha == tip or sha in trail.refusals]


def _method(git: Git, sha: str, verdict: Verdict, same: int) -> str:
    """How the request reached the main line: merge, squash or rebase."""
    if len(git.commit(sha).parents) > 1:
        return "merge"
    if verdict.request.forge == "gitlab":
        return "squash" if verdict.request.squash else "rebase"
    return "rebase" if same > 1 else "squash"


def _refuse(git: Git, tip: str, refused: list[tuple[str, str]], sign_key: str | None) -> None:
    """A refusal record on each refused commit, and on the tip when it is refused for an earlier one."""
    for sha, why in refused:
        records.add(git, sha, refusal_record(sha, why), sign_key)
    if tip not in {sha for sha, _ in refused}:
        records.add(git, tip, refusal_record(tip, "an earlier commit is refused: " + refused[0][1]), sign_key)


def check_merges(
    git: Git,
    forge: Forge,
    tip: str,
    *,
    accounts: str = "accounts",
    sign_key: str | None = None,
    write: bool = True,
    accept: dict[str, dict] | None = None,
) -> tuple[bool, list[str]]:
    """Before an apply: every main-line commit not yet covered by the record must come from a merged
    request an approver approved on its final commit, or be accepted by an approver by name
    (``accept``: commit → {by, why}; the apply job takes it from a manual run gated by the production
    environment's reviewers). Writes a request record for each (an acceptance record for an accepted
    one), or a refusal record on each refused commit; returns (all approved, what was found)."""
    accept = {git.rev(c): v for c, v in (accept or {}).items()}
    trail = records.load(git, tip)
    commits = pending(git, trail, tip)
    if not commits:
        return True, [f"{tip[:10]}: already in the record"]
    oldest = git.commit(commits[-1])
    approvers = approvers_at(git, oldest.parents[0] if oldest.parents else commits[-1], accounts)
    numbers = {sha: forge.requests_of(sha) for sha in commits if sha not in accept}
    verdicts: dict[int, Verdict] = {}
    messages, refused, recs = [], [], []
    for sha in reversed(commits):
        if sha in accept:
            who = accept[sha]
            recs.append({"format": records.ACCEPTED_FORMAT, "commit": sha, "by": who["by"], "why": who["why"]})
            messages.append(f"{sha[:10]}: accepted by {who['by']}: {who['why']}")
            continue
        if not numbers[sha]:
            refused.append(
                (sha, f"{sha[:10]}: no merged request found for this commit (pushed to the branch directly?)")
            )
            continue
        for number in numbers[sha]:
            if number not in verdicts:
                verdicts[number] = judge(forge, number, approvers)
            verdict = verdicts[number]
            if not verdict.ok:
                refused.append((sha, f"{sha[:10]}: {verdict.why()}"))
                continue
            method = _method(git, sha, verdict, sum(1 for other in commits if number in numbers.get(other, [])))
            recs.append(request_record(verdict, sha, method))
            messages.append(f"{sha[:10]}: {verdict.why()} ({method})")
    if refused:
        if write:
            _refuse(git, tip, refused, sign_key)
        return False, messages + [f"REFUSED {why}" for _, why in refused]
    if write:
        for rec in recs:
            records.add(git, rec["commit"], rec, sign_key)
    return True, messages


# --- doctor ----------------------------------------------------------------------------------------


@dataclass
class Finding:
    ok: bool
    setting: str
    fix: str

    def __str__(self) -> str:
        return f"{'ok     ' if self.ok else 'MISSING'} {self.setting}" + ("" if self.ok else f" — {self.fix}")


def _github_doctor(api: Api, repo: str, branch: str) -> list[Finding]:
    p = api.get(f"/repos/{repo}/branches/{branch}/protection")
    out = [Finding(p is not None, f"branch protection on {branch}", "Settings → Branches → add a rule for it")]
    p = p if isinstance(p, dict) else {}
    reviews = p.get("required_pull_request_reviews") or {}
    checks = p.get("required_status_checks") or {}
    contexts = set(checks.get("contexts") or []) | {c.get("context") for c in checks.get("checks") or [] if c}
    enabled = lambda key: bool((p.get(key) or {}).get("enabled"))  # noqa: E731
    out += [
        Finding(
            int(reviews.get("required_approving_review_count") or 0) >= 1,
            "a pull request with at least one approval",
            "Require a pull request before merging, 1 approval",
        ),
        Finding(bool(reviews.get("dismiss_stale_reviews")), "stale approvals dismissed", "Dismiss stale approvals"),
        Finding(
            bool(reviews.get("require_code_owner_reviews")), "code owner review", "Require review from Code Owners"
        ),
        Finding(
            bool(reviews.get("require_last_push_approval")),
            "approval of the most recent push",
            "Require approval of the most recent reviewable push",
        ),
        Finding(STATUS_CONTEXT in contexts, f"required check {STATUS_CONTEXT}", "add it to the required status checks"),
        Finding(CHECK_NAME in contexts, f"required check {CHECK_NAME!r}", "add it to the required status checks"),
        Finding(bool(checks.get("strict")), "branch up to date before merging", "Require branches to be up to date"),
        Finding(enabled("enforce_admins"), "no bypass for administrators", "Do not allow bypassing the settings"),
        Finding(not enabled("allow_force_pushes"), "no force push", "untick Allow force pushes"),
        Finding(not enabled("allow_deletions"), "no deletion", "untick Allow deletions"),
    ]
    actions = api.get(f"/repos/{repo}/actions/permissions/workflow")
    actions = actions if isinstance(actions, dict) else {}
    out += [
        Finding(
            actions.get("default_workflow_permissions") == "read",
            "workflows get a read-only token by default",
            "Settings → Actions → General → Workflow permissions: Read repository contents",
        ),
        Finding(
            actions.get("can_approve_pull_request_reviews") is False,
            "workflows cannot approve pull requests",
            "untick Allow GitHub Actions to create and approve pull requests",
        ),
    ]
    env = api.get(f"/repos/{repo}/environments/production")
    env = env if isinstance(env, dict) else {}
    policy = env.get("deployment_branch_policy") or {}
    rules = [r for r in env.get("protection_rules") or [] if isinstance(r, dict)]
    out += [
        Finding(
            bool(policy.get("protected_branches") or policy.get("custom_branch_policies")),
            "environment production limited to the protected main branch",
            "Settings → Environments → production → Deployment branches: protected branches",
        ),
        Finding(
            any(r.get("type") == "required_reviewers" and r.get("prevent_self_review") for r in rules),
            "a manual apply (accepting a refused commit) needs an approver's review",
            "Settings → Environments → production → Required reviewers: the approvers; prevent self-review",
        ),
    ]
    return out


def _gitlab_doctor(api: Api, project: str, branch: str) -> list[Finding]:
    pb = api.get(f"/projects/{project}/protected_branches/{urllib.parse.quote(branch, safe='')}")
    out = [Finding(pb is not None, f"{branch} protected", "Settings → Repository → Protected branches")]
    pb = pb if isinstance(pb, dict) else {}
    push = pb.get("push_access_levels") or [{}]
    out += [
        Finding(
            all(level.get("access_level") == 0 for level in push),
            f"nobody pushes to {branch} (merge requests only)",
            "Allowed to push and merge: No one",
        ),
        Finding(pb.get("allow_force_push") is False, "no force push", "untick Allowed to force push"),
        Finding(
            bool(pb.get("code_owner_approval_required")),
            "code owner approval required",
            "tick Code owner approval on the protected branch",
        ),
    ]
    proj = _dict(api.get(f"/projects/{project}") or {}, "project")
    config = str(proj.get("ci_config_path") or "")
    out += [
        Finding(
            bool(proj.get("only_allow_merge_if_pipeline_succeeds")),
            "pipelines must succeed",
            "Settings → Merge requests → Pipelines must succeed",
        ),
        Finding(
            "@" in config and config.endswith(f":{branch}"),
            "the CI configuration is read from the default branch, not from the merge request",
            f"Settings → CI/CD → CI/CD configuration file: .gitlab-ci.yml@<group>/<project>:{branch}",
        ),
    ]
    rules = _dict(api.get(f"/projects/{project}/approvals") or {}, "approvals")
    out += [
        Finding(bool(rules.get("reset_approvals_on_push")), "approvals removed on a new push", "tick it"),
        Finding(rules.get("merge_requests_author_approval") is False, "authors cannot approve", "untick it"),
        Finding(bool(rules.get("merge_requests_disable_committers_approval")), "committers cannot approve", "tick it"),
        Finding(
            bool(rules.get("disable_overriding_approvers_per_merge_request")),
            "approval rules cannot be changed in a merge request",
            "tick it",
        ),
    ]
    variables = api.pages(f"/projects/{project}/variables")
    loose = [
        str(v.get("key"))
        for v in variables
        if isinstance(v, dict) and str(v.get("key", "")).startswith("GOVMAIL_") and not v.get("protected")
    ]
    out.append(Finding(not loose, "every GOVMAIL_* variable protected", f"protect {', '.join(loose)}" if loose else ""))
    return out


def doctor(forge: Forge, branch: str = "main") -> list[Finding]:
    if forge.kind == "github":
        return _github_doctor(forge.api, forge.project, branch)
    return _gitlab_doctor(forge.api, forge.project, branch)


# --- exported lists (sla --open, rejected requests) -------------------------------------------------


@dataclass
class Listed:
    number: int
    title: str
    author: str
    opened: str
    state: str  # open, merged, closed
    closed: str | None
    url: str


def listed(items: object) -> list[Listed]:
    """Requests from a forge's list (GitHub pulls or GitLab merge requests), as exported or fetched."""
    if not isinstance(items, list):
        raise ForgeError("the list of requests must be a JSON list (the forge's own answer)")
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        number = item.get("number", item.get("iid"))
        if not isinstance(number, int):
            continue
        merged = item.get("merged_at")
        raw = item.get("state")
        state = "merged" if merged or raw == "merged" else ("open" if raw in ("open", "opened", "locked") else "closed")
        out.append(
            Listed(
                number=number,
                title=str(item.get("title") or ""),
                author=_login(item.get("user") or item.get("author")) or "?",
                opened=str(item.get("created_at")),
                state=state,
                closed=item.get("closed_at") or merged,
                url=str(item.get("html_url") or item.get("web_url") or ""),
            )
        )
    return out
