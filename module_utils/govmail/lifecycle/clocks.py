"""The clocks of Article 8, proposed through Git: 6 months inactive → suspend (R8.2a), 1 month
suspended → revoke (R8.1).

``scan`` decides, from the account files and the directory's activity stamps, which accounts are
due; ``propose`` turns that into a branch with one commit per unit file (edits made by the same
request code as ``govmail request``) and a pull-request description. Nothing here writes to the
directory: the change happens when the pull request is merged and applied, like any other.

Activity (docs/lifecycle.md): the last successful *authentication by the account holder*.
Dovecot (IMAP, POP3, and SMTP submission through Dovecot SASL) and the password page all
authenticate by binding to the directory as the user (auth_bind), and slapd stamps
``pwdLastSuccess`` on every successful bind (olcLastBind). Receiving mail is not counted: it
happens whether or not anybody reads the mailbox. The clock also restarts at the entry's
creation, at a password set for it (``pwdChangedTime``: a reset the unit asked for) and at the
last status change (``since``: a restore).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ldap3 import SUBTREE

from ..directory.layout import MANAGED_FILTER, Layout
from ..model.mailboxes import unit_mailboxes
from ..model.orgs import Tree
from ..workflow.gitlog import Git
from ..workflow.requests import Session, op_status
from . import notices

INACTIVE_MONTHS = 6  # R8.2a
SUSPENDED_MONTHS = 1  # R8.1
TRAILER = "Govmail-Lifecycle"
ACTIVITY_ATTRIBUTES = ["mail", "govmailState", "pwdLastSuccess", "createTimestamp", "pwdChangedTime"]


class LifecycleError(ValueError):
    """The scan cannot run (bad input, a git problem); nothing was written."""


def months_later(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (31 Aug + 6 months → 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _date(value) -> dt.date | None:
    if not value:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    return dt.date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


@dataclass
class Activity:
    address: str
    state: str
    last_login: dt.date | None
    created: dt.date | None
    password_set: dt.date | None

    def last(self, since: str | None) -> dt.date | None:
        dates = [d for d in (self.last_login, self.created, self.password_set) if d]
        if since:
            dates.append(dt.date.fromisoformat(since))
        return max(dates) if dates else None


def read_activity(conn, layout: Layout, page_size: int = 1000) -> dict[str, Activity]:
    """Address → activity stamps of every live managed entry (one paged search)."""
    out = {}
    for item in conn.extend.standard.paged_search(
        layout.accounts_dn,
        MANAGED_FILTER,
        search_scope=SUBTREE,
        attributes=ACTIVITY_ATTRIBUTES,
        paged_size=page_size,
        generator=True,
    ):
        if item.get("type") != "searchResEntry":
            continue
        attrs = item["attributes"]
        mail = attrs.get("mail")
        if not mail:
            continue
        address = (mail[0] if isinstance(mail, list) else mail).lower()
        state = attrs.get("govmailState")
        out[address] = Activity(
            address=address,
            state=(state[0] if isinstance(state, list) and state else state) or "active",
            last_login=_date(attrs.get("pwdLastSuccess")),
            created=_date(attrs.get("createTimestamp")),
            password_set=_date(attrs.get("pwdChangedTime")),
        )
    if conn.result and conn.result.get("result") not in (0, None):
        raise LifecycleError(f"reading the directory failed: {conn.result.get('description')}")
    return out


@dataclass(frozen=True)
class Due:
    op: str  # "suspend" | "revoke" | "warn"
    org: str
    address: str
    name: str
    unit: str | None
    since: dt.date | None  # last activity (suspend/warn) or suspension date (revoke)
    due: dt.date
    reason: str | None = None


@dataclass
class Scan:
    today: dt.date
    suspend: list[Due] = field(default_factory=list)
    revoke: list[Due] = field(default_factory=list)
    warn: list[Due] = field(default_factory=list)
    already: list[Due] = field(default_factory=list)  # due, but an open lifecycle branch proposes it


def scan(
    tree: Tree, activity: dict[str, Activity], today: dt.date, proposed: set[tuple[str, str]], warn_days: int = 14
) -> Scan:
    """Which people are due for suspension or revocation today, and who is due within ``warn_days``."""
    out = Scan(today)
    for org in tree.orgs:
        for person in org.people:
            if not person.address:
                continue
            address = person.address
            if person.status == "active":
                seen = activity.get(address)
                if seen is None or seen.state != "active":
                    continue  # not applied yet, or the directory already disagrees: the plan shows that
                last = seen.last(person.since)
                if last is None:
                    continue
                due = months_later(last, INACTIVE_MONTHS)
                item = Due("suspend", org.id, address, person.name, person.unit, last, due)
                if due <= today:
                    (out.already if ("suspend", address) in proposed else out.suspend).append(item)
                elif (due - today).days <= warn_days:
                    out.warn.append(Due("warn", org.id, address, person.name, person.unit, last, due))
            elif person.status == "suspended" and person.since:
                since = dt.date.fromisoformat(person.since)
                due = months_later(since, SUSPENDED_MONTHS)
                if due <= today:
                    item = Due("revoke", org.id, address, person.name, person.unit, since, due, person.reason)
                    (out.already if ("revoke", address) in proposed else out.revoke).append(item)
    return out


# --- Git ------------------------------------------------------------------------------------


def already_proposed(git: Git, base: str, prefix: str) -> set[tuple[str, str]]:
    """(op, address) proposed by any ``<prefix>/*`` branch not merged into ``base`` yet."""
    out = set()
    refs = git.run("for-each-ref", "--format=%(refname)", f"refs/heads/{prefix}/").split()
    for ref in refs:
        log = git.run("log", "--format=%B%x00", f"{base}..{ref}")
        for match in re.finditer(rf"^{TRAILER}: (suspend|revoke) (\S+)$", log, re.MULTILINE):
            out.add((match.group(1), match.group(2)))
    return out


def check_base(accounts_dir: str | Path, base: str) -> None:
    """The scan reads the files of the working tree and proposes on ``base``: they must be the same."""
    git = Git(accounts_dir)
    git.rev(base)
    changed = git.run("status", "--porcelain", "--", ".").strip()
    differs = git.run("diff", "--name-only", base, "--", ".").strip()
    if changed or differs:
        raise LifecycleError(
            f"the account files here differ from {base} (uncommitted or another branch): run the scan from a clean "
            f"checkout of {base}"
        )


def _branch_name(git: Git, prefix: str, today: dt.date) -> str:
    name, number = f"{prefix}/{today.isoformat()}", 1
    while git.run("rev-parse", "--verify", "--quiet", f"refs/heads/{name}", check=False).strip():
        number += 1
        name = f"{prefix}/{today.isoformat()}-{number}"
    return name


def _revoke_reason(item: Due) -> tuple[str, str]:
    code = (item.reason or "other").split()[0]
    text = f"R8.1: tạm ngưng từ {item.since.isoformat()}, quá 1 tháng không có yêu cầu khôi phục"
    return code, text


@dataclass
class Proposal:
    branch: str | None
    commits: list[str]
    description: str
    scan: Scan


def propose(
    accounts_dir: str | Path,
    scan_result: Scan,
    *,
    base: str = "HEAD",
    prefix: str = "lifecycle",
) -> Proposal:
    """A branch ``<prefix>/<date>`` from ``base``: one commit per unit file; the working tree is untouched."""
    accounts_dir = Path(accounts_dir).resolve()
    git = Git(accounts_dir)
    top = Path(git.run("rev-parse", "--show-toplevel").strip())
    rel = accounts_dir.relative_to(top)
    base_sha = git.rev(base)
    items = scan_result.suspend + scan_result.revoke
    if not items:
        return Proposal(None, [], description(scan_result, None), scan_result)
    branch = _branch_name(git, prefix, scan_result.today)
    work = Path(tempfile.mkdtemp(prefix="govmail-lifecycle-"))
    commits = []
    git.run("worktree", "add", "--quiet", "-b", branch, str(work / "tree"), base_sha)
    try:
        wgit = Git(work / "tree")
        for org_id in sorted({i.org for i in items}):
            session = Session(work / "tree" / rel)
            lines = []
            for item in [i for i in items if i.org == org_id]:
                who = {"address": item.address}
                if item.op == "suspend":
                    text = f"R8.2a: không hoạt động từ {item.since.isoformat()}"
                    op_status(
                        session, kind="suspend", who=who, reason="inactive", reason_more=text, date=scan_result.today
                    )
                else:
                    code, text = _revoke_reason(item)
                    op_status(session, kind="revoke", who=who, reason=code, reason_more=text, date=scan_result.today)
                lines.append(f"{TRAILER}: {item.op} {item.address}")
            outcome = session.commit(write=True)
            wgit.run("add", "--", *outcome.files)
            ops = sorted({i.op for i in items if i.org == org_id})
            subject = f"lifecycle {scan_result.today.isoformat()}: {org_id}: {' + '.join(ops)} {len(lines)} account(s)"
            body = "Proposed by `govmail lifecycle scan` (R8.1, R8.2a); nothing was written to the directory.\n\n"
            wgit.run(
                "-c",
                "user.name=govmail lifecycle",
                "-c",
                "user.email=govmail-lifecycle@localhost",
                "commit",
                "--quiet",
                "-m",
                subject,
                "-m",
                body.strip(),
                "-m",
                "\n".join(lines),
            )
            commits.append(wgit.rev("HEAD"))
    except Exception:
        git.run("worktree", "remove", "--force", str(work / "tree"), check=False)
        git.run("branch", "-D", branch, check=False)
        shutil.rmtree(work, ignore_errors=True)
        raise
    git.run("worktree", "remove", "--force", str(work / "tree"))
    shutil.rmtree(work, ignore_errors=True)
    return Proposal(branch, commits, description(scan_result, branch), scan_result)


def description(result: Scan, branch: str | None) -> str:
    """The pull-request description, Markdown."""
    day = result.today.isoformat()
    out = [f"# Lifecycle proposals of {day}", ""]
    if branch:
        out += [f"Branch `{branch}`, one commit per unit file. Made by `govmail lifecycle scan`;", ""]
    out += [
        "Review each account; merge to apply. An account that should stay open is dropped from the",
        "branch (or restored afterwards through the normal request, R8.3).",
        "",
    ]
    if result.suspend:
        out += ["## Suspend: no activity for 6 months (R8.2a)", ""]
        out += ["| address | name | unit | last activity | due |", "|---|---|---|---|---|"]
        for d in result.suspend:
            unit = f"{d.org}/{d.unit}" if d.unit else d.org
            out.append(f"| {d.address} | {d.name} | {unit} | {d.since} | {d.due} |")
        out.append("")
    if result.revoke:
        out += ["## Revoke: suspended for 1 month, no restore requested (R8.1)", ""]
        out += ["| address | name | suspended since | reason |", "|---|---|---|---|"]
        for d in result.revoke:
            out.append(f"| {d.address} | {d.name} | {d.since} | {d.reason} |")
        out.append("")
    if not result.suspend and not result.revoke:
        out += ["Nothing new to propose.", ""]
    if result.already:
        out += [f"Already proposed in an open lifecycle branch: {', '.join(d.address for d in result.already)}.", ""]
    if result.warn:
        out += ["## Warned: suspension due within 14 days", ""]
        out += [f"- {d.address} ({d.name}): due {d.due}" for d in result.warn]
        out.append("")
    return "\n".join(out)


# --- warnings -------------------------------------------------------------------------------


def warning_notices(tree: Tree, result: Scan, web: str) -> list[notices.Notice]:
    """One notice per person due within the warning window, one per unit mailbox listing its people."""
    boxes = unit_mailboxes(tree)
    out = []
    by_box: dict[str, list[Due]] = {}
    for d in result.warn:
        days = (d.due - result.today).days
        body = (
            f"Kính gửi {d.name},\n\n"
            f"Tài khoản thư điện tử công vụ {d.address} không được sử dụng từ ngày {d.since}.\n"
            f"Theo Điều 8, khoản 2, điểm a của Quy chế, tài khoản sẽ bị đề nghị tạm ngưng vào ngày {d.due}\n"
            f"(còn {days} ngày) nếu không có hoạt động. Để giữ tài khoản, hãy đăng nhập hộp thư\n"
            f"(webmail, IMAP hoặc gửi thư) hoặc trang đổi mật khẩu {web} trước ngày đó.\n\n"
            f"The official mailbox {d.address} has not been used since {d.since}. Under R8.2a it will be\n"
            f"proposed for suspension on {d.due} ({days} days). Sign in before then to keep it open.\n"
        )
        subject = f"Tài khoản {d.address} sắp bị tạm ngưng / will be suspended on {d.due}"
        out.append(notices.Notice(f"{d.due}:suspend-warning:{d.address}", d.address, subject, body))
        box = boxes.get(d.org)
        if box and box != d.address:
            by_box.setdefault(box, []).append(d)
    for box, items in sorted(by_box.items()):
        lines = "".join(
            f"  • {d.address} — {d.name}: không hoạt động từ {d.since}, tạm ngưng ngày {d.due}\n" for d in items
        )
        body = (
            "Kính gửi đơn vị,\n\n"
            "Các tài khoản thư điện tử công vụ sau của đơn vị không được sử dụng gần 6 tháng và sẽ bị đề nghị\n"
            "tạm ngưng (Điều 8, khoản 2, điểm a) vào ngày ghi bên cạnh nếu không có hoạt động:\n\n"
            + lines
            + "\nNếu người dùng đã chuyển công tác, nghỉ hưu hoặc nghỉ việc, đề nghị đơn vị gửi yêu cầu thu hồi\n"
            "(Điều 10, khoản 5).\n\n"
            "These accounts of your unit have not been used for almost 6 months and will be proposed for\n"
            "suspension (R8.2a) on the date shown unless they are used before.\n"
        )
        subject = f"Tài khoản sắp bị tạm ngưng do không hoạt động ({len(items)}) / accounts to be suspended"
        key = f"{result.today}:unit-warning:{box}:" + ",".join(sorted(d.address for d in items))
        out.append(notices.Notice(key, box, subject, body))
    return out
