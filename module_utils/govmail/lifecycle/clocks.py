"""The clocks of Article 8, proposed through Git: 6 months inactive → suspend (R8.2a), 1 month
suspended → revoke (R8.1).

``scan`` decides, from the account files and the directory's activity stamps, which accounts are
due; ``propose`` turns that into a branch with one commit per unit file (edits made by the same
request code as ``govmail request``) and a pull-request description. Nothing here writes to the
directory: the change happens when the pull request is merged and applied, like any other.

Activity (docs/lifecycle.md): the last successful *authentication by the account holder*.
Dovecot (IMAP, and SMTP submission through Dovecot SASL) and the password page all
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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..directory.layout import MANAGED_FILTER, Layout
from ..directory.ldap_client import Directory, ReadError
from ..model.addresses import org_structural_accounts
from ..model.edits import EditError
from ..model.mailboxes import unit_mailboxes
from ..model.orgs import Tree
from ..model.problems import InvalidTree
from ..workflow.gitlog import Git
from ..workflow.requests import RequestError, Session, op_status
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


def _vn_zone() -> dt.tzinfo:
    try:
        return ZoneInfo("Asia/Ho_Chi_Minh")
    except ZoneInfoNotFoundError:  # no tz database on this host: Vietnam keeps UTC+7 all year
        return dt.timezone(dt.timedelta(hours=7), "ICT")


VN = _vn_zone()


def vn_today() -> dt.date:
    """Today in Vietnam, whatever the host's time zone."""
    return dt.datetime.now(VN).date()


def _date(value) -> dt.date | None:
    """The Vietnam-time day of a directory time stamp (GeneralizedTime is UTC: 23:30Z is 06:30 next day)."""
    if not value:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(VN).date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    digits = text[:14].ljust(14, "0")
    moment = dt.datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    return moment.astimezone(VN).date()


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


def read_activity(directory: Directory, layout: Layout, page_size: int = 1000) -> dict[str, Activity]:
    """Address → activity stamps of every live managed entry (one paged search)."""
    out = {}
    try:
        for _, attrs in directory.search(layout.accounts_dn, MANAGED_FILTER, ACTIVITY_ATTRIBUTES, page_size):
            mail = attrs.get("mail")
            if not mail:
                continue
            address = mail[0].lower()
            out[address] = Activity(
                address=address,
                state=(attrs.get("govmailState") or ["active"])[0],
                last_login=_date(attrs.get("pwdLastSuccess")),
                created=_date(attrs.get("createTimestamp")),
                password_set=_date(attrs.get("pwdChangedTime")),
            )
    except ReadError as exc:  # a partial read (size limit…) must never pass for the whole
        raise LifecycleError(f"reading the directory failed: {exc}") from exc
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
    where: str = ""  # file:line of the entry
    kind: str = "person"  # or org | body | unit (R8.1 only)


@dataclass
class Scan:
    today: dt.date
    suspend: list[Due] = field(default_factory=list)
    revoke: list[Due] = field(default_factory=list)
    warn: list[Due] = field(default_factory=list)
    already: list[Due] = field(default_factory=list)  # due, but an open lifecycle branch proposes it
    dropped: list[Due] = field(default_factory=list)  # proposed before and dropped by the reviewer, nothing new
    excused: list[Due] = field(default_factory=list)  # inactive with a reason (R8.2a) until a date
    skipped: list[tuple[Due, str]] = field(default_factory=list)  # an entry the edit code cannot change: why


def _key(op: str, address: str, since: dt.date | None) -> str:
    """What a proposal is about: the op, the account and the date its clock started from."""
    return f"{op} {address} {since.isoformat() if since else '-'}"


def _person_items(org, person, activity: dict[str, Activity], today: dt.date, *, warn_days: int, out: Scan):
    """(item, bucket) for one person: due to suspend or revoke, or warned; excused ones go to ``out``."""
    address = person.address
    where = f"{org.file}:{org.source.line_of(person.fpath)}"
    if person.status == "suspended" and person.since:
        since = dt.date.fromisoformat(person.since)
        due = months_later(since, SUSPENDED_MONTHS)
        if due <= today:
            yield Due("revoke", org.id, address, person.name, person.unit, since, due, person.reason, where), "revoke"
        return
    seen = activity.get(address)
    if person.status != "active" or seen is None or seen.state != "active":
        return  # not applied yet, or the directory already disagrees: the plan shows that
    last = seen.last(person.since)
    if last is None:
        return
    due = months_later(last, INACTIVE_MONTHS)
    excuse = person.inactive_reason
    if excuse and due <= dt.date.fromisoformat(str(excuse["until"])):
        due = dt.date.fromisoformat(str(excuse["until"])) + dt.timedelta(days=1)  # R8.2a: "unless a reason is given"
        if (due - today).days > warn_days:
            out.excused.append(
                Due("excused", org.id, address, person.name, person.unit, last, due, excuse["text"], where)
            )
            return
    if due <= today:
        yield Due("suspend", org.id, address, person.name, person.unit, last, due, where=where), "suspend"
    elif (due - today).days <= warn_days:
        yield Due("warn", org.id, address, person.name, person.unit, last, due, where=where), "warn"


def _mailbox_items(org, tree: Tree, today: dt.date):
    """Unit, body and organisation mailboxes follow R8.1 too (docs/lifecycle.md); R8.2a is for people."""
    for account in org_structural_accounts(org, tree.province):
        if account.status == "suspended" and account.since:
            since = dt.date.fromisoformat(account.since)
            due = months_later(since, SUSPENDED_MONTHS)
            if due <= today:
                where = f"{account.file}:{account.line}"
                yield Due(
                    "revoke", org.id, account.address, account.name, account.unit, since, due, account.reason, where,
                    account.kind,
                )  # fmt: skip


def scan(
    tree: Tree,
    activity: dict[str, Activity],
    today: dt.date,
    proposed: set[tuple[str, str]],
    *,
    warn_days: int = 14,
    before: set[str] | None = None,
) -> Scan:
    """Which accounts are due for suspension (people, R8.2a) or revocation (every kind, R8.1) today,
    and which people are due within ``warn_days``.

    ``proposed``: (op, address) of open lifecycle branches. ``before``: ``_key``s of every proposal
    made earlier (commit trailers); one that is neither open nor carried out was dropped by the
    reviewer and is not proposed again until the date its clock starts from changes.
    """
    before = before or set()
    out = Scan(today)

    def decide(item: Due, bucket: list[Due]) -> None:
        if (item.op, item.address) in proposed:
            out.already.append(item)
        elif _key(item.op, item.address, item.since) in before:
            out.dropped.append(item)
        else:
            bucket.append(item)

    for org in tree.orgs:
        for person in org.people:
            if not person.address:
                continue
            for item, bucket in _person_items(org, person, activity, today, warn_days=warn_days, out=out):
                if bucket == "warn":
                    out.warn.append(item)
                else:
                    decide(item, getattr(out, bucket))
        for item in _mailbox_items(org, tree, today):
            decide(item, out.revoke)
    return out


# --- Git ------------------------------------------------------------------------------------


PROPOSED = re.compile(rf"^{TRAILER}: (suspend|revoke) (\S+)(?: \(from (\d{{4}}-\d{{2}}-\d{{2}})\))?$", re.MULTILINE)


def proposed_before(git: Git, base: str, prefix: str) -> set[str]:
    """``_key``s of every proposal in the history of ``base`` and of every ``<prefix>/*`` branch."""
    refs = git.run("for-each-ref", "--format=%(refname)", f"refs/heads/{prefix}/").split()
    log = git.run("log", "--format=%B%x00", f"--grep=^{TRAILER}: ", base, *refs)
    return {f"{m.group(1)} {m.group(2)} {m.group(3) or '-'}" for m in PROPOSED.finditer(log)}


def already_proposed(git: Git, base: str, prefix: str) -> set[tuple[str, str]]:
    """(op, address) proposed by any ``<prefix>/*`` branch not merged into ``base`` yet."""
    out = set()
    refs = git.run("for-each-ref", "--format=%(refname)", f"refs/heads/{prefix}/").split()
    for ref in refs:
        log = git.run("log", "--format=%B%x00", f"{base}..{ref}")
        for match in PROPOSED.finditer(log):
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


def _edit(session: Session, item: Due, scan_result: Scan) -> bool:
    """Make one proposal's edit; an entry the edit code cannot change (a block-scalar reason …) is
    reported with its file:line and skipped, and everyone else goes on."""
    who = {"address": item.address}
    kept = dict(session.texts)
    try:
        if item.op == "suspend":
            text = f"R8.2a: không hoạt động từ {item.since.isoformat()}"
            op_status(session, kind="suspend", who=who, reason="inactive", reason_more=text, date=scan_result.today)
        else:
            code, text = _revoke_reason(item)
            op_status(session, kind="revoke", who=who, reason=code, reason_more=text, date=scan_result.today)
    except (EditError, RequestError, InvalidTree) as exc:
        session.texts = kept
        session.refresh()
        scan_result.skipped.append((item, str(exc)))
        (scan_result.suspend if item.op == "suspend" else scan_result.revoke).remove(item)
        return False
    return True


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
                if _edit(session, item, scan_result):
                    lines.append(f"{TRAILER}: {item.op} {item.address} (from {item.since.isoformat()})")
            if not lines:
                continue
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
    if not commits:  # every item was skipped: no branch
        git.run("branch", "-D", branch, check=False)
        return Proposal(None, [], description(scan_result, None), scan_result)
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
    if result.dropped:
        out += [
            "Proposed before and dropped by the reviewer; not proposed again until the account is used, restored or"
            f" suspended anew: {', '.join(d.address for d in result.dropped)}.",
            "",
        ]
    if result.excused:
        out += ["## Inactive with a reason (R8.2a)", ""]
        out += [f"- {d.address} ({d.name}): {d.reason}; not proposed before {d.due}" for d in result.excused]
        out.append("")
    if result.skipped:
        out += ["## Skipped: the entry cannot be edited automatically", ""]
        out += [f"- {d.where}: {d.address} ({d.op}): {why}" for d, why in result.skipped]
        out.append("")
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
    by_box: dict[tuple[str, dt.date], list[Due]] = {}
    for d in result.warn:
        days = (d.due - result.today).days
        body = (
            f"Kính gửi {d.name},\n\n"
            f"Tài khoản thư điện tử công vụ {d.address} không được sử dụng từ ngày {d.since}.\n"
            f"Theo Điều 8, khoản 2, điểm a của Quy chế, tài khoản sẽ bị đề nghị tạm ngưng vào ngày {d.due}\n"
            f"(còn {days} ngày) nếu không có hoạt động. Để giữ tài khoản, hãy đăng nhập hộp thư\n"
            f"(IMAP hoặc gửi thư) hoặc trang đổi mật khẩu {web} trước ngày đó.\n\n"
            f"The official mailbox {d.address} has not been used since {d.since}. Under R8.2a it will be\n"
            f"proposed for suspension on {d.due} ({days} days). Sign in before then to keep it open.\n"
        )
        subject = f"Tài khoản {d.address} sắp bị tạm ngưng / will be suspended on {d.due}"
        out.append(notices.Notice(f"{d.due}:suspend-warning:{d.address}", d.address, subject, body))
        box = boxes.get(d.org)
        if box and box != d.address:
            by_box.setdefault((box, d.due), []).append(d)
    for (box, due), items in sorted(by_box.items()):
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
        # The due dates, not the scan's date: the same warning is never sent twice (docs/lifecycle.md).
        key = f"{due}:unit-warning:{box}"
        out.append(notices.Notice(key, box, subject, body))
    return out
