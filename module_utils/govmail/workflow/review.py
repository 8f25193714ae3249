"""The quarterly review of each unit's list (R10.5).

Every quarter each unit's mailbox receives, in Vietnamese, the accounts the files hold for it —
people with their titles and sub-units, the sub-units, each account's state and last activity —
with a one-step way to answer: a ``mailto:`` link that opens a prefilled reply to the support
mailbox (subject tagged ``[govmail-review <quarter> <unit>]``), either "XÁC NHẬN" (confirm) or
"ĐỀ NGHỊ ĐIỀU CHỈNH" (changes asked for), and optionally a link that opens a prefilled request on
the forge. The operator records the answer in Git with ``govmail attest`` (an empty commit whose
trailers say which unit answered what for which quarter); ``govmail report --quarter`` counts the
units that confirmed, asked for changes, or did not answer.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from ..model.addresses import accounts
from ..model.mailboxes import support_mailbox, unit_mailboxes
from ..model.orgs import PLACE_WORD, Tree
from .gitlog import Git

ANSWERS = {"confirmed": "XÁC NHẬN", "changes": "ĐỀ NGHỊ ĐIỀU CHỈNH"}
STATE_VI = {"active": "đang hoạt động", "suspended": "tạm ngừng", "revoked": "đã thu hồi"}
KIND_VI = {"person": "cá nhân", "unit": "đơn vị trực thuộc", "org": "cơ quan", "body": "cơ quan", "system": "hệ thống"}
QUARTER = re.compile(r"^\d{4}Q[1-4]$")
TAG = re.compile(r"\[govmail-review (\d{4}Q[1-4]) ([a-z0-9-]+)\]")
TRAILER_REVIEW, TRAILER_UNIT, TRAILER_ANSWER = "Govmail-Review", "Govmail-Unit", "Govmail-Answer"


class ReviewError(ValueError):
    pass


def check_quarter(quarter: str) -> str:
    quarter = quarter.strip().upper()
    if not QUARTER.match(quarter):
        raise ReviewError(f"{quarter!r} is not a quarter like 2026Q4")
    return quarter


@dataclass
class UnitList:
    org_id: str
    org_name: str
    mailbox: str
    rows: list[dict] = field(default_factory=list)  # address, name, title, kind, unit_name, state, last
    units: list[str] = field(default_factory=list)  # sub-unit names


def unit_lists(tree: Tree, last_activity: dict[str, dt.date | None]) -> list[UnitList]:
    """One list per unit that has a mailbox; ``last_activity``: address → last login (from the directory)."""
    boxes = unit_mailboxes(tree)
    by_org: dict[str, UnitList] = {}
    for org in tree.orgs:
        if org.id in boxes:
            name = f"{PLACE_WORD[org.kind]} {org.name}" if org.kind in PLACE_WORD else org.name
            units = [u.name for u in org.units]
            by_org[org.id] = UnitList(org.id, name, boxes[org.id], units=units)
    unit_names = {(o.id, u.id): u.name for o in tree.orgs for u in o.units}
    for a in accounts(tree):
        target = by_org.get(a.org or "")
        if target is None or a.status == "revoked":
            continue
        target.rows.append(
            {
                "address": a.address,
                "name": a.name,
                "title": a.title or "",
                "kind": a.kind,
                "unit_name": unit_names.get((a.org, a.unit), "") if a.unit else "",
                "state": a.status,
                "last": last_activity.get(a.address.lower()),
            }
        )
    return [u for u in by_org.values() if u.rows]


def subject(quarter: str, org_id: str, answer: str | None = None) -> str:
    tag = f"[govmail-review {quarter} {org_id}]"
    return f"{tag} {ANSWERS[answer]}" if answer else f"{tag} Rà soát danh sách tài khoản thư điện tử quý {quarter}"


def _mailto(to: str, quarter: str, org_id: str, answer: str) -> str:
    body = (
        "Đơn vị xác nhận danh sách tài khoản thư điện tử đúng với thực tế."
        if answer == "confirmed"
        else "Đơn vị đề nghị điều chỉnh danh sách như sau (ghi rõ họ tên, chức vụ, nội dung cần điều chỉnh):\n\n- "
    )
    query = urllib.parse.urlencode(
        {"subject": subject(quarter, org_id, answer), "body": body}, quote_via=urllib.parse.quote
    )
    return f"mailto:{to}?{query}"


def message(tree: Tree, unit: UnitList, quarter: str, today: dt.date, request_url: str | None = None) -> EmailMessage:
    """The review message to one unit, Vietnamese, plain text."""
    support = support_mailbox(tree)
    lines = [
        f"Kính gửi {unit.org_name},",
        "",
        f"Theo Quy chế (khoản 5 Điều 10), đề nghị đơn vị rà soát danh sách tài khoản thư điện tử công vụ "
        f"của đơn vị quý {quarter} (số liệu ngày {today:%d/%m/%Y}):",
        "",
    ]
    for i, r in enumerate(sorted(unit.rows, key=lambda r: (r["kind"] != "person", r["unit_name"], r["name"])), 1):
        last = f"{r['last']:%d/%m/%Y}" if r["last"] else "chưa đăng nhập"
        who = f"{r['name']} — {r['title']}" if r["title"] else f"{r['name']} ({KIND_VI.get(r['kind'], r['kind'])})"
        where = f"; {r['unit_name']}" if r["unit_name"] else ""
        lines.append(f"{i}. {who}{where}")
        lines.append(f"   {r['address']} — {STATE_VI.get(r['state'], r['state'])}; đăng nhập gần nhất: {last}")
    lines += ["", "Các đơn vị trực thuộc: " + ("; ".join(unit.units) if unit.units else "không có"), ""]
    lines += [
        "Cách trả lời (chỉ một bước):",
        f"- Danh sách đúng: bấm {_mailto(support, quarter, unit.org_id, 'confirmed')}",
        f'  (hoặc trả lời thư này với tiêu đề "{subject(quarter, unit.org_id, "confirmed")}").',
        f"- Cần điều chỉnh: bấm {_mailto(support, quarter, unit.org_id, 'changes')}",
        "  và ghi rõ nội dung cần điều chỉnh.",
    ]
    if request_url:
        title = f"Điều chỉnh danh sách tài khoản {unit.org_id} quý {quarter}"
        lines.append(f"- Hoặc mở đề nghị điều chỉnh đã điền sẵn: {request_url.format(title=urllib.parse.quote(title))}")
    lines += ["", "Trân trọng,", f"Bộ phận hỗ trợ thư điện tử công vụ ({support})", ""]
    msg = EmailMessage()
    msg["From"] = support
    msg["To"] = unit.mailbox
    msg["Reply-To"] = support
    msg["Subject"] = subject(quarter, unit.org_id)
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(domain=tree.province.domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(lines))
    return msg


def answer_of(subject_line: str) -> tuple[str, str, str] | None:
    """(quarter, unit, answer) of a reply's subject, or None when it is not a review answer."""
    match = TAG.search(subject_line or "")
    if not match:
        return None
    rest = subject_line[match.end() :].upper()
    answer = "changes" if "ĐIỀU CHỈNH" in rest or "DIEU CHINH" in rest else "confirmed"
    return match.group(1), match.group(2), answer


def attest(
    git: Git, quarter: str, org_id: str, answer: str, *, note: str = "", known_units: set[str] | None = None
) -> str:
    """Record a unit's answer as an empty commit with trailers; returns its id."""
    quarter = check_quarter(quarter)
    if answer not in ANSWERS:
        raise ReviewError(f"answer must be one of {', '.join(ANSWERS)}, got {answer!r}")
    if not re.fullmatch(r"[a-z0-9-]{1,64}", org_id) or (known_units is not None and org_id not in known_units):
        raise ReviewError(f"{org_id!r} is not a unit with a mailbox in the account files")
    note = " ".join(note.split())[:500]
    body = f"{note}\n\n" if note else ""
    text = (
        f"Rà soát quý {quarter}: {org_id} {ANSWERS[answer].lower()}\n\n{body}"
        f"{TRAILER_REVIEW}: {quarter}\n{TRAILER_UNIT}: {org_id}\n{TRAILER_ANSWER}: {answer}\n"
    )
    git.run("commit", "--allow-empty", "-q", "-F", "-", input=text)
    return git.rev("HEAD")


def answers(git: Git, quarter: str, ref: str = "HEAD") -> dict[str, str]:
    """unit → its latest answer for the quarter, from the attestation commits on ``ref``."""
    quarter = check_quarter(quarter)
    out = git.run("log", "--format=%(trailers:key=Govmail-Unit,key=Govmail-Answer,valueonly,separator=%x1f)%x1e",
                  f"--grep=^{TRAILER_REVIEW}: {quarter}$", ref)  # fmt: skip
    result: dict[str, str] = {}
    for record in out.split("\x1e"):
        parts = [p.strip() for p in record.strip().split("\x1f")]
        if len(parts) == 2 and parts[1] in ANSWERS:
            result.setdefault(parts[0], parts[1])  # newest first: the latest answer wins
    return result


def tally(units, git: Git, quarter: str, ref: str = "HEAD") -> dict[str, list[str]]:
    """The units with a mailbox (ids, or the Tree), sorted into confirmed / changes / no answer."""
    got = answers(git, quarter, ref)
    out: dict[str, list[str]] = {"confirmed": [], "changes": [], "none": []}
    for org_id in sorted(unit_mailboxes(units) if isinstance(units, Tree) else units):
        out[got.get(org_id, "none")].append(org_id)
    return out
