"""The five-working-day deadline of R7.2b, measured on the Git history and the audit record.

A request is *received* when its pull / merge request was opened and *approved* when it was merged,
as the forge's API said at merge time (the ``govmail-request/1`` record); for history made before
that record existed, at its first commit (author date) and its main-line commit (committer date).
It is *done* when the reply letter was sent (``govmail reply --sent``, R7.2b's written notification),
else at the end of the first apply that carried it. Days are counted in Vietnam time (UTC+7). A
working day is Monday to Friday and not a public holiday of Vietnam (Tết, Hùng Kings, 30/4, 1/5,
2/9 … as the ``holidays`` library's VN calendar gives them, observed days included). The deadline
is the end of the fifth working day after the day of receipt: received on Wednesday 29/4/2026
(30/4 and 1/5 are holidays) → due on Friday 8/5/2026.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import holidays

from .forge import Listed
from .history import History, Request, local

DEADLINE = 5  # working days (R7.2b)


@lru_cache(maxsize=64)
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days d with start < d <= end (0 when end is not after start)."""
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def deadline(received: dt.date, days: int = DEADLINE) -> dt.date:
    day, left = received, days
    while left:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


@dataclass
class Row:
    commit: str
    subject: str
    accounts: list[str]
    received: dt.datetime
    approved: dt.datetime
    applied: dt.datetime | None
    due: dt.date
    days_to_approve: int
    days_to_apply: int | None  # None while not applied
    late: bool
    request: str | None = None  # "#12" / "!5" when the forge's record exists
    source: str = "commit"  # where "received" comes from: forge (the request's opening) or commit
    replied: dt.date | None = None  # the reply letter's sending (govmail reply --sent)
    days_to_reply: int | None = None

    def as_dict(self) -> dict:
        return {
            "commit": self.commit,
            "subject": self.subject,
            "accounts": self.accounts,
            "received": self.received.isoformat(),
            "approved": self.approved.isoformat(),
            "applied": self.applied.isoformat() if self.applied else None,
            "due": self.due.isoformat(),
            "working_days_to_approve": self.days_to_approve,
            "working_days_to_apply": self.days_to_apply,
            "late": self.late,
            "request": self.request,
            "received_from": self.source,
            "replied": self.replied.isoformat() if self.replied else None,
            "working_days_to_reply": self.days_to_reply,
        }


def _applied_at(request: Request) -> dt.datetime | None:
    if not request.applied or request.applied.get("result") != "ok" or not request.applied.get("finished"):
        return None
    return local(dt.datetime.fromisoformat(request.applied["finished"].replace("Z", "+00:00")))


def row(request: Request, today: dt.date) -> Row:
    received = local(request.received)
    approved = local(request.approved_at)
    applied = _applied_at(request)
    due = deadline(received.date())
    # R7.2b: processing and written notification; measured to the reply when its sending is recorded
    sent = request.reply_sent
    end = sent if sent else (applied.date() if applied else today)
    return Row(
        commit=request.merge.sha,
        subject=request.merge.subject,
        accounts=[e.address for e in request.events],
        received=received,
        approved=approved,
        applied=applied,
        due=due,
        days_to_approve=working_days_between(received.date(), approved.date()),
        days_to_apply=working_days_between(received.date(), applied.date()) if applied else None,
        late=end > due,
        request=(f"{'#' if request.forge.get('forge') == 'github' else '!'}{request.forge.get('number')}")
        if request.forge
        else None,
        source="forge" if request.forge else "commit",
        replied=sent,
        days_to_reply=working_days_between(received.date(), sent) if sent else None,
    )


def rows(
    history: History, since: dt.date | None = None, until: dt.date | None = None, today: dt.date | None = None
) -> list[Row]:
    today = today or dt.date.today()
    out = []
    for request in history.requests():
        if all(e.ops == ["adopt"] for e in request.events):
            continue  # taking over existing mailboxes (brownfield) is nobody's request (docs/audit.md)
        r = row(request, today)
        if since and r.received.date() < since:
            continue
        if until and r.received.date() > until:
            continue
        out.append(r)
    return out


def sla_text(table: list[Row]) -> str:
    """The table: received, approved, applied, replied (the letter), due, working days, the request."""
    if not table:
        return "No requests in the period."
    head = f"{'received':<16} {'approved':<16} {'applied':<16} {'replied':<10} "
    head += f"{'due':<10} {'wd':>3}  {'':4} commit     request accounts"
    lines = [head]
    for r in table:
        applied = f"{r.applied:%Y-%m-%d %H:%M}" if r.applied else "not applied"
        days = r.days_to_reply if r.days_to_reply is not None else r.days_to_apply
        days = days if days is not None else "-"
        line = f"{r.received:%Y-%m-%d %H:%M} {r.approved:%Y-%m-%d %H:%M} {applied:<16} "
        line += f"{r.replied or '-'!s:<10} "
        line += f"{r.due} {days:>3}  {'LATE' if r.late else 'ok':4} {r.commit[:10]} "
        line += f"{r.request or '-':7} "
        lines.append(line + ", ".join(r.accounts))
    late = [r for r in table if r.late]
    lines.append(
        f"{len(table)} request(s); {len(table) - len(late)} within {DEADLINE} working days, "
        f"{len(late)} past the deadline (R7.2b)."
    )
    return "\n".join(lines)


@dataclass
class OpenRow:
    """A request the forge lists as open (not merged): how long it has waited."""

    number: int
    title: str
    author: str
    received: dt.datetime
    due: dt.date
    days: int
    late: bool
    url: str

    def as_dict(self) -> dict:
        return {
            "number": self.number,
            "title": self.title,
            "author": self.author,
            "received": self.received.isoformat(),
            "due": self.due.isoformat(),
            "working_days": self.days,
            "late": self.late,
            "url": self.url,
        }


def _opened(item: Listed) -> dt.datetime:
    return local(dt.datetime.fromisoformat(item.opened.replace("Z", "+00:00")))


def unmerged(items: list[Listed], today: dt.date) -> list[OpenRow]:
    """Open requests, oldest first, each measured against ``today`` (R7.2b)."""
    out = []
    for item in items:
        if item.state != "open":
            continue
        received = _opened(item)
        due = deadline(received.date())
        out.append(
            OpenRow(
                item.number,
                item.title,
                item.author,
                received,
                due,
                working_days_between(received.date(), today),
                today > due,
                item.url,
            )
        )
    return sorted(out, key=lambda r: r.received)


def rejected(items: list[Listed], since: dt.date | None = None, until: dt.date | None = None) -> list[Listed]:
    """Requests closed without being merged (refused), closed within the period."""
    out = []
    for item in items:
        if item.state != "closed" or not item.closed:
            continue
        day = local(dt.datetime.fromisoformat(item.closed.replace("Z", "+00:00"))).date()
        if (since is None or day >= since) and (until is None or day <= until):
            out.append(item)
    return out


def open_text(table: list[OpenRow]) -> str:
    if not table:
        return "No open request."
    lines = [f"{'received':<16} {'due':<10} {'wd':>3}  {'':4} request  author           title"]
    for r in table:
        lines.append(
            f"{r.received:%Y-%m-%d %H:%M} {r.due} {r.days:>3}  {'LATE' if r.late else 'ok':4} "
            f"#{r.number:<7} {r.author:<16} {r.title}"
        )
    late = [r for r in table if r.late]
    lines.append(f"{len(table)} open request(s); {len(late)} past the {DEADLINE}-working-day deadline (R7.2b).")
    return "\n".join(lines)
