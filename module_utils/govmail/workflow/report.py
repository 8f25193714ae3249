"""The quarterly report of R9.1d, in Vietnamese: accounts at quarter end, changes, deadlines, incidents.

Figures come from the Git history only (``history.py``, ``sla.py``): the account files on the
main line at the end of the quarter, the requests approved in it, and the apply records.
Rendered as Markdown and as a PDF with two charts (accounts over time, changes per month).
matplotlib and reportlab are imported only when a document is drawn, so the CLI starts fast.
"""

# ruff: noqa: PLC0415

from __future__ import annotations

import calendar
import datetime as dt
import io
import re
import subprocess
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..model.addresses import accounts
from ..model.mailboxes import unit_mailboxes
from ..model.orgs import PLACE_WORD
from ..model.tree import load
from . import review
from .history import VN, History, local
from .sla import DEADLINE, rejected, rows, unmerged

KIND_VI = {"person": "Cá nhân", "org": "Cơ quan, đơn vị", "body": "Cơ quan cấp xã", "unit": "Đơn vị trực thuộc"}
OPS_VI = {
    "create": "Tạo mới",
    "adopt": "Tiếp nhận tài khoản có sẵn",
    "suspend": "Tạm khóa",
    "restore": "Khôi phục",
    "revoke": "Thu hồi",
    "update": "Thay đổi thông tin",
    "move": "Chuyển đơn vị",
    "reset": "Cấp lại mật khẩu",
}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


REVIEW_VI = {"confirmed": "Đã xác nhận", "changes": "Đề nghị điều chỉnh", "none": "Chưa trả lời"}


class ReportError(ValueError):
    pass


@dataclass
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", text.strip())
        if not match:
            raise ReportError(f"{text!r} is not a quarter like 2026Q4")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last(self) -> dt.date:
        month = 3 * self.number
        return dt.date(self.year, month, calendar.monthrange(self.year, month)[1])

    @property
    def months(self) -> list[int]:
        return [3 * self.number - 2, 3 * self.number - 1, 3 * self.number]

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


@dataclass
class Report:
    quarter: Quarter
    as_of: dt.date
    commit: str | None
    by_org: list[dict] = field(default_factory=list)  # name, id, counts by kind, suspended, total
    totals: dict = field(default_factory=dict)
    changes: dict[str, dict[int, int]] = field(default_factory=dict)  # op → month → count
    deadline: dict = field(default_factory=dict)
    late: list[dict] = field(default_factory=list)
    incidents: list[dict] = field(default_factory=list)
    over_time: list[tuple[dt.date, int]] = field(default_factory=list)
    review: dict[str, list[str]] = field(default_factory=dict)  # confirmed / changes / none → unit ids (R10.5)
    review_names: dict[str, str] = field(default_factory=dict)
    # Backups and the restore drill (R9.2b), from the status files the CLI reads (ops/backups.summary).
    operations: dict = field(default_factory=dict)


OPS_TITLE = "Sao lưu và diễn tập khôi phục dữ liệu (điểm b khoản 2 Điều 9)"


def operations_lines(report: Report) -> list[str]:
    ops = report.operations
    when = ops.get("last_backup")
    drill = ops.get("drill")
    lines = [
        f"Lần sao lưu thành công gần nhất: {when:%H:%M %d/%m/%Y} (UTC, máy {ops.get('last_backup_host')}); "
        f"số bản sao lưu đang giữ: {ops.get('archives', 0)}."
        if when
        else "Chưa ghi nhận lần sao lưu thành công nào."
    ]
    if drill:
        figures = ops.get("drill_figures") or {}
        lines.append(
            f"Diễn tập khôi phục gần nhất: {drill:%H:%M %d/%m/%Y} (UTC), "
            + ("đạt, không mất dữ liệu" if ops.get("drill_ok") else "KHÔNG ĐẠT")
            + (f": {figures.get('entries')} mục danh bạ, {figures.get('messages')} thư." if figures else ".")
        )
    else:
        lines.append("Chưa ghi nhận lần diễn tập khôi phục nào.")
    return lines


def _rev_at(history: History, day: dt.date) -> str | None:
    moment = dt.datetime.combine(day, dt.time(23, 59, 59), VN).isoformat()
    out = history.git.run("rev-list", "-1", "--first-parent", f"--before={moment}", history.ref).strip()
    return out or None


def _accounts_at(history: History, rev: str) -> tuple[list, dict[str, str], list[str]]:
    """Every account the files define at ``rev``, each org's name, and the orgs with a mailbox (the
    tree is taken out of Git)."""
    with tempfile.TemporaryDirectory(prefix="govmail-report-") as tmp:
        data = subprocess.run(
            ["git", "archive", "--format=tar", rev], cwd=history.git.cwd, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp, filter="data")
        tree, _ = load(Path(tmp) / history.accounts.dir)
        if tree is None:
            raise ReportError(f"the account files at {rev[:10]} cannot be read")
        names = {o.id: (f"{PLACE_WORD[o.kind]} {o.name}" if o.kind in PLACE_WORD else o.name) for o in tree.orgs}
        return accounts(tree), names, sorted(unit_mailboxes(tree))


def _month_ends(last: dt.date, count: int = 12) -> list[dt.date]:
    out, year, month = [], last.year, last.month
    for _ in range(count):
        out.append(dt.date(year, month, calendar.monthrange(year, month)[1]))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def build(history: History, quarter: Quarter, today: dt.date | None = None, requests: list | None = None) -> Report:
    """``requests``: the forge's list of requests (``forge.listed``), for the refused and open ones."""
    today = today or dt.date.today()
    as_of = min(quarter.last, today)
    rev = _rev_at(history, as_of)
    report = Report(quarter, as_of, rev)
    if rev:
        counts: dict[str, Counter] = {}
        found, names, mailboxes = _accounts_at(history, rev)
        report.review = review.tally(mailboxes, history.git, str(quarter), history.ref)
        report.review_names = names
        for account in found:
            if account.kind == "system" or account.status == "revoked":
                continue
            row = counts.setdefault(account.org, Counter())
            row[account.kind] += 1
            row["suspended"] += account.status == "suspended"
        for org_id, row in sorted(counts.items(), key=lambda item: names.get(item[0], item[0])):
            total = sum(row[k] for k in KIND_VI)
            report.by_org.append(
                {
                    "name": names.get(org_id, org_id),
                    "id": org_id,
                    **{k: row[k] for k in KIND_VI},
                    "suspended": row["suspended"],
                    "total": total,
                }
            )
        report.totals = {k: sum(r[k] for r in report.by_org) for k in (*KIND_VI, "suspended", "total")}

    report.changes = {op: dict.fromkeys(quarter.months, 0) for op in OPS_VI}
    for request in history.requests():
        approved = local(request.approved_at).date()
        if not quarter.first <= approved <= quarter.last:
            continue
        for event in request.events:
            for op in event.ops:
                if op in report.changes:
                    report.changes[op][approved.month] += 1
            code = (event.reason or "").split(" ")[0]
            if code in ("inactive", "compromised") and {"suspend", "revoke"} & set(event.ops):
                report.incidents.append(
                    {
                        "date": approved,
                        "address": event.address,
                        "op": OPS_VI["suspend" if "suspend" in event.ops else "revoke"],
                        "reason": event.reason,
                        "code": code,
                    }
                )

    table = rows(history, since=quarter.first, until=quarter.last, today=as_of)
    applied = [r for r in table if r.applied]
    report.deadline = {
        "requests": len(table),
        "on_time": sum(1 for r in table if not r.late and r.applied),
        "late": sum(1 for r in table if r.late),
        "pending": sum(1 for r in table if not r.applied and not r.late),
        "average_days": round(sum(r.days_to_apply for r in applied) / len(applied), 1) if applied else None,
    }
    _refused_and_waiting(report, requests, quarter, as_of)  # issue 11 §3
    report.late = [
        {
            "received": r.received.date(),
            "due": r.due,
            "applied": r.applied.date() if r.applied else None,
            "days": r.days_to_apply,
            "accounts": r.accounts,
            "commit": r.commit,
        }
        for r in table
        if r.late
    ]
    for month_end in _month_ends(quarter.last):
        day = min(month_end, today)
        if report.over_time and report.over_time[-1][0] == day:
            break  # the months after today are not known yet
        at = _rev_at(history, day)
        people = history.accounts.at(at)[0].values() if at else []
        report.over_time.append(
            (day, sum(1 for p in people if p.get("kind", "person") == "person" and p["status"] != "revoked"))
        )
    return report


def _refused_and_waiting(report: Report, requests: list | None, quarter: Quarter, as_of: dt.date) -> None:
    """Refused requests and open ones past their deadline count too, when the forge's list is given."""
    if requests is None:
        return
    report.deadline["rejected"] = len(rejected(requests, quarter.first, quarter.last))
    waiting = [r for r in unmerged(requests, as_of) if quarter.first <= r.received.date() <= quarter.last]
    report.deadline["open_late"] = sum(1 for r in waiting if r.late)


def _d(day: dt.date | None) -> str:
    return f"{day:%d/%m/%Y}" if day else "—"


def title_lines(report: Report) -> list[str]:
    q = report.quarter
    return [
        "BÁO CÁO TÌNH HÌNH VẬN HÀNH VÀ SỬ DỤNG HỆ THỐNG THƯ ĐIỆN TỬ CÔNG VỤ TỈNH KHÁNH HÒA",
        f"Quý {ROMAN[q.number]} năm {q.year} (từ {_d(q.first)} đến {_d(q.last)})",
    ]


def markdown(report: Report) -> str:
    head, sub = title_lines(report)
    out = [f"# {head}", "", f"**{sub}** — theo điểm d khoản 1 Điều 9 Quy chế.", ""]
    out += [f"## 1. Số lượng tài khoản đến ngày {_d(report.as_of)}", ""]
    kinds = list(KIND_VI)
    out += [
        "| Đơn vị | " + " | ".join(KIND_VI.values()) + " | Đang tạm khóa | Tổng |",
        "|---|" + "---:|" * (len(kinds) + 2),
    ]
    for row in report.by_org:
        out.append(
            f"| {row['name']} | " + " | ".join(str(row[k]) for k in kinds) + f" | {row['suspended']} | {row['total']} |"
        )
    if report.totals:
        t = report.totals
        out.append(
            "| **Tổng cộng** | "
            + " | ".join(f"**{t[k]}**" for k in kinds)
            + f" | **{t['suspended']}** | **{t['total']}** |"
        )
    months = report.quarter.months
    out += [
        "",
        "## 2. Biến động trong quý",
        "",
        "| Nội dung | " + " | ".join(f"Tháng {m}" for m in months) + " | Cả quý |",
        "|---|" + "---:|" * (len(months) + 1),
    ]
    for op, label in OPS_VI.items():
        per = report.changes.get(op, {})
        out.append(f"| {label} | " + " | ".join(str(per.get(m, 0)) for m in months) + f" | {sum(per.values())} |")
    d = report.deadline
    out += [
        "",
        f"## 3. Thời hạn giải quyết đề nghị ({DEADLINE} ngày làm việc, điểm b khoản 2 Điều 7)",
        "",
        f"- Số đề nghị nhận trong quý: {d['requests']}",
        f"- Thực hiện đúng hạn: {d['on_time']}",
        f"- Quá hạn: {d['late']}",
        f"- Đang xử lý, còn trong hạn: {d['pending']}",
    ]
    if "rejected" in d:
        out.append(f"- Bị từ chối (đóng, không thực hiện): {d['rejected']}")
        out.append(f"- Chưa duyệt, đã quá hạn: {d['open_late']}")
    if d["average_days"] is not None:
        out.append(f"- Thời gian thực hiện trung bình: {d['average_days']} ngày làm việc".replace(".", ","))
    if report.late:
        out += ["", "| Ngày nhận | Hạn | Ngày thực hiện | Số ngày làm việc | Tài khoản |", "|---|---|---|---:|---|"]
        for row in report.late:
            days = row["days"] if row["days"] is not None else "chưa thực hiện"
            out.append(
                f"| {_d(row['received'])} | {_d(row['due'])} | {_d(row['applied'])} | {days} | "
                + ", ".join(row["accounts"])
                + " |"
            )
    out += ["", "## 4. Tài khoản không hoạt động, bị xâm phạm (khoản 2 Điều 8)", ""]
    if report.incidents:
        out += ["| Ngày | Tài khoản | Xử lý | Lý do |", "|---|---|---|---|"]
        for row in report.incidents:
            out.append(f"| {_d(row['date'])} | {row['address']} | {row['op']} | {row['reason']} |")
    else:
        out.append("Không có trường hợp nào trong quý.")
    counted = sum(1 for r in report.incidents if r["code"] == "inactive")
    out += [
        "",
        f"Không hoạt động 6 tháng: {counted}; bị xâm phạm (lộ mật khẩu, mã độc, thư rác): "
        f"{len(report.incidents) - counted}.",
        "",
    ]
    if report.operations:
        out += [f"## 5. {OPS_TITLE}", "", *(f"- {line}" for line in operations_lines(report)), ""]
    return "\n".join(out + review_lines(report))


def review_lines(report: Report) -> list[str]:
    """The units' answers to the quarterly review of their lists (R10.5), when any unit has a mailbox."""
    if not report.review:
        return []
    out = ["## 6. Đơn vị rà soát danh sách tài khoản (khoản 5 Điều 10)", ""]
    for key, label in REVIEW_VI.items():
        ids = report.review.get(key, [])
        named = ", ".join(report.review_names.get(i, i) for i in ids) or "—"
        out.append(f"- {label}: {len(ids)} ({named})")
    return [*out, ""]


def charts(report: Report) -> tuple[bytes, bytes]:
    """PNG charts: personal accounts at each month end; changes per month of the quarter."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.8), dpi=150)
    days = [d for d, _ in report.over_time]
    ax.plot([f"{d:%m/%Y}" for d in days], [n for _, n in report.over_time], marker="o", color="#1f5fa8")
    ax.set_title("Tài khoản cá nhân cuối mỗi tháng")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    first = io.BytesIO()
    fig.savefig(first, format="png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 2.8), dpi=150)
    months = report.quarter.months
    bottom = [0] * len(months)
    for op, label in OPS_VI.items():
        values = [report.changes.get(op, {}).get(m, 0) for m in months]
        if any(values):
            ax.bar([f"Tháng {m}" for m in months], values, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title("Biến động tài khoản theo tháng")
    ax.yaxis.get_major_locator().set_params(integer=True)
    if any(bottom):
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    second = io.BytesIO()
    fig.savefig(second, format="png")
    plt.close(fig)
    return first.getvalue(), second.getvalue()


def _fonts() -> tuple[str, str]:
    """DejaVu Sans (shipped with matplotlib) covers every Vietnamese letter."""
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    base = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVu", str(base / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVu-Bold", str(base / "DejaVuSans-Bold.ttf")))
    return "DejaVu", "DejaVu-Bold"


def pdf(report: Report, path: str | Path) -> None:  # noqa: PLR0915 — the document, top to bottom
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=10, leading=14)
    h1 = ParagraphStyle("h1", fontName=bold, fontSize=12.5, leading=17, alignment=1, spaceAfter=4)
    h2 = ParagraphStyle("h2", fontName=bold, fontSize=11, leading=15, spaceBefore=10, spaceAfter=4)
    center = ParagraphStyle("c", parent=body, alignment=1)
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), regular, 8.5),
            ("FONT", (0, 0), (-1, 0), bold, 8.5),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
            ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )

    def cell(text: object) -> Paragraph:
        return Paragraph(str(text), ParagraphStyle("cell", fontName=regular, fontSize=8.5, leading=10.5))

    head, sub = title_lines(report)
    story = [
        Paragraph(head, h1),
        Paragraph(sub, center),
        Paragraph(
            "(theo điểm d khoản 1 Điều 9 Quy chế quản lý, vận hành và sử dụng Hệ thống thư điện tử công vụ)", center
        ),
        Spacer(1, 8),
    ]
    story.append(Paragraph(f"1. Số lượng tài khoản đến ngày {_d(report.as_of)}", h2))
    data = [["Đơn vị", *KIND_VI.values(), "Đang tạm khóa", "Tổng"]]
    data[0] = [cell(x) for x in data[0]]
    for row in report.by_org:
        data.append([cell(row["name"]), *(row[k] for k in KIND_VI), row["suspended"], row["total"]])
    if report.totals:
        data.append(
            ["Tổng cộng", *(report.totals[k] for k in KIND_VI), report.totals["suspended"], report.totals["total"]]
        )
    table = Table(data, repeatRows=1, colWidths=[4 * cm] + [2.2 * cm] * (len(KIND_VI) + 2))
    table.setStyle(style)
    story.append(table)

    story.append(Paragraph("2. Biến động trong quý", h2))
    months = report.quarter.months
    data = [["Nội dung", *(f"Tháng {m}" for m in months), "Cả quý"]]
    for op, label in OPS_VI.items():
        per = report.changes.get(op, {})
        data.append([label, *(per.get(m, 0) for m in months), sum(per.values())])
    table = Table(data, colWidths=[5 * cm] + [2.4 * cm] * 4)
    table.setStyle(style)
    story.append(table)
    first, second = charts(report)
    story += [Spacer(1, 6), Image(io.BytesIO(second), width=16 * cm, height=6.4 * cm)]

    d = report.deadline
    story.append(Paragraph(f"3. Thời hạn giải quyết đề nghị ({DEADLINE} ngày làm việc)", h2))
    text = (
        f"Số đề nghị nhận trong quý: {d['requests']}; đúng hạn: {d['on_time']}; quá hạn: {d['late']}; "
        f"đang xử lý, còn trong hạn: {d['pending']}."
    )
    if "rejected" in d:
        text += f" Bị từ chối: {d['rejected']}; chưa duyệt, đã quá hạn: {d['open_late']}."
    story.append(Paragraph(text, body))
    if report.late:
        data = [[cell(x) for x in ("Ngày nhận", "Hạn", "Ngày thực hiện", "Số ngày làm việc", "Tài khoản")]]
        for row in report.late:
            data.append(
                [
                    _d(row["received"]),
                    _d(row["due"]),
                    _d(row["applied"]),
                    row["days"] if row["days"] is not None else "chưa",
                    cell(", ".join(row["accounts"])),
                ]
            )
        table = Table(data, colWidths=[2.3 * cm, 2.3 * cm, 2.6 * cm, 2.4 * cm, 7 * cm])
        table.setStyle(style)
        story += [Spacer(1, 4), table]

    story.append(Paragraph("4. Tài khoản không hoạt động, bị xâm phạm", h2))
    if report.incidents:
        data = [["Ngày", "Tài khoản", "Xử lý", "Lý do"]]
        for row in report.incidents:
            data.append([_d(row["date"]), cell(row["address"]), cell(row["op"]), cell(row["reason"])])
        table = Table(data, colWidths=[2.3 * cm, 5.5 * cm, 2.5 * cm, 6.3 * cm])
        table.setStyle(style)
        story.append(table)
    else:
        story.append(Paragraph("Không có trường hợp nào trong quý.", body))
    if report.operations:
        story.append(Paragraph(OPS_TITLE, h2))
        story += [Paragraph(line, body) for line in operations_lines(report)]

    story.append(
        KeepTogether(
            [
                Paragraph("5. Số tài khoản cá nhân theo thời gian", h2),
                Image(io.BytesIO(first), width=16 * cm, height=6.4 * cm),
            ]
        )
    )
    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=1.5 * cm,
        topMargin=1.8 * cm,
        bottomMargin=1.8 * cm,
        title=head,
        author="Trung tâm Chuyển đổi số",
    )
    doc.build(story)
