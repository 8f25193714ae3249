"""The reply document of R7.2b step 4: what TTCĐS did for which accounts, one letter per requesting unit.

Laid out as a Vietnamese administrative letter (Nghị định 30/2020/NĐ-CP): issuing body and number
on the left, the national motto on the right, place and date, subject ("V/v …"), addressee, body
with a table of the accounts, recipients and the signature block. Written as DOCX (Times New Roman).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..model.orgs import BODIES, PLACE_WORD
from . import records
from .gitlog import Git, GitError
from .history import Event, History, local

OPS_VI = {
    "create": "Tạo mới tài khoản",
    "adopt": "Tiếp nhận tài khoản có sẵn",
    "update": "Thay đổi thông tin",
    "move": "Chuyển đơn vị",
    "reset": "Cấp lại mật khẩu",
    "suspend": "Tạm khóa tài khoản",
    "restore": "Khôi phục tài khoản",
    "revoke": "Thu hồi tài khoản",
}
REASONS_VI = {
    "inactive": "không sử dụng 6 tháng",
    "compromised": "bị xâm phạm, lộ mật khẩu",
    "prohibited": "sử dụng vào mục đích bị cấm",
    "transferred": "chuyển công tác",
    "retired": "nghỉ hưu",
    "resigned": "thôi việc",
    "requested": "theo đề nghị",
    "other": "lý do khác",
}


class ReplyError(ValueError):
    pass


@dataclass
class Letter:
    org: str
    org_name: str
    commit: str
    received: dt.date
    done: dt.date
    events: list[Event] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # org id → addressee, for transfers


def find_commit(git: Git, history: History, ref: str) -> str:
    """A commit, or a pull request number (#12 / 12 / !12) found in the main line's commit messages:
    "Merge pull request #12 …" (GitHub), "See merge request group/project!12" (GitLab), "… (#12)" (squash)."""
    number = re.fullmatch(r"[#!]?(\d{1,6})", ref.strip())
    if number:
        n = number.group(1)
        for sha, rec in history.trail.requests.items():  # the forge's record of the merge (issue 11 §3)
            if str(rec.get("number")) == n:
                return sha
        pattern = re.compile(rf"(pull request #{n}\b|merge request \S*!{n}\b|\(#{n}\)|\(!{n}\))")
        log = git.run("log", "--first-parent", "--format=%H%x1f%B%x1e", history.ref)
        for entry in log.split("\x1e"):
            if "\x1f" in entry:
                sha, message = entry.strip().split("\x1f", 1)
                if pattern.search(message):
                    return sha
    try:
        return git.rev(ref)
    except GitError as exc:
        raise ReplyError(f"{ref!r} is neither a commit nor a merged pull request number") from exc


def addressee(name: str, kind: str | None) -> str:
    """Who a letter is addressed to: a commune-level unit's People's Committee, else the body itself.

    ``Ninh Phước`` (commune) → ``Ủy ban nhân dân xã Ninh Phước``; a ward → ``phường``, the special
    zone → ``đặc khu`` (Luật Tổ chức chính quyền địa phương 2025)."""
    if kind in PLACE_WORD:
        return f"{BODIES['ubnd']} {PLACE_WORD[kind]} {name}"
    return name


def _orgs_at(git: Git, sha: str, accounts_dir: str) -> dict[str, str]:
    """org id → the addressee of its letters, from the unit files at ``sha``."""
    out = {}
    for path, blob in git.files(sha, accounts_dir).items():
        if not path.endswith(".yaml") or path.endswith("province.yaml"):
            continue
        try:
            org = (yaml.safe_load(git.blob(blob)) or {}).get("org") or {}
        except (yaml.YAMLError, AttributeError):
            continue
        if isinstance(org, dict) and isinstance(org.get("id"), str) and isinstance(org.get("name"), str):
            out[org["id"]] = addressee(org["name"], org.get("kind"))
    return out


def letters(history: History, ref: str) -> list[Letter]:
    """One letter per unit concerned: the unit of each account, and for a transfer both units."""
    git = history.git
    sha = find_commit(git, history, ref)
    request = next((r for r in history.requests() if r.merge.sha == sha), None)
    if request is None:
        raise ReplyError(f"{sha[:10]} is not an approved request on the main line that changed an account")
    if request.applied is None or request.applied.get("result") != "ok":
        raise ReplyError(f"{sha[:10]} has not been applied yet (no successful apply record): the reply follows step 3")
    done = local(dt.datetime.fromisoformat(request.applied["finished"].replace("Z", "+00:00"))).date()
    names = _orgs_at(git, sha, history.accounts.dir)
    if request.merge.parents:  # a unit whose file the request removed still gets its letter
        names = {**_orgs_at(git, request.merge.parents[0], history.accounts.dir), **names}
    out: dict[str, Letter] = {}
    for event in request.events:
        state = event.state or {}
        concerned = [state.get("org") or "?"]
        if "move" in event.ops and event.changes.get("org"):
            concerned = [o for o in event.changes["org"] if o]
        for org in concerned:
            if org not in out:
                out[org] = Letter(org, names.get(org, org), sha, local(request.received).date(), done)
                out[org].names = names
            out[org].events.append(event)
    return list(out.values())


def record_sent(history: History, ref: str, sent: dt.date, number: str | None = None, sign_key=None) -> str:
    """Record that the reply letter for a request was sent on ``sent`` (R7.2b step 4: the written
    notification ends the five days); ``govmail sla`` measures to it. Returns the merge commit."""
    git = history.git
    sha = find_commit(git, history, ref)
    found = letters(history, sha)  # the same refusals: not a request, not applied yet
    applied = min(letter.done for letter in found)
    if sent < applied:
        raise ReplyError(f"{sha[:10]}: a reply sent on {sent} would precede the apply of {applied}")
    rec = {"format": records.REPLY_FORMAT, "commit": sha, "sent": sent.isoformat()}
    if number and number.strip():
        rec["number"] = number.strip()
    records.add(git, sha, rec, sign_key)
    return sha


def _what(event: Event, names: dict[str, str] | None = None) -> str:
    names = names or {}
    parts = []
    for op in event.ops:
        text = OPS_VI.get(op, op)
        if op in ("suspend", "revoke") and event.reason:
            code = event.reason.split()[0]
            text += f" ({REASONS_VI.get(code, code)})"
        if op == "move" and event.changes.get("org"):
            before, after = event.changes["org"]
            text += f": từ {names.get(before, before)} sang {names.get(after, after)}"
        if op == "update":
            fields = {"title": "chức vụ", "unit": "đơn vị", "name": "họ tên", "aliases": "địa chỉ phụ"}
            changed = [fields.get(k, k) for k in event.changes if k in fields]
            if changed:
                text += ": " + ", ".join(changed)
        parts.append(text)
    return "; ".join(parts)


def write_docx(  # noqa: PLR0915 — the letter, top to bottom
    letter: Letter, path: str | Path, *, number: str, issuer: str, parent: str, signer: str, signer_title: str
) -> None:
    import docx  # noqa: PLC0415 — python-docx only when a letter is written
    from docx.enum.table import WD_TABLE_ALIGNMENT  # noqa: PLC0415
    from docx.enum.text import WD_ALIGN_PARAGRAPH  # noqa: PLC0415
    from docx.shared import Cm, Pt  # noqa: PLC0415

    doc = docx.Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin, section.right_margin = Cm(3), Cm(2)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(13)

    def para(cell_or_doc, text="", *, bold=False, italic=False, center=False, size=None, underline=False):
        paragraphs = cell_or_doc.paragraphs
        fresh = hasattr(cell_or_doc, "merge") and len(paragraphs) == 1 and not paragraphs[0].runs
        p = paragraphs[0] if fresh else cell_or_doc.add_paragraph()  # a table cell starts with one empty paragraph
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(text)
        run.bold, run.italic, run.underline = bold, italic, underline
        if size:
            run.font.size = Pt(size)
        p.paragraph_format.space_after = Pt(0)
        return p

    head = doc.add_table(rows=1, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    left, right = head.rows[0].cells
    para(left, parent.upper(), center=True, size=12)
    para(left, issuer.upper(), bold=True, center=True, size=12)
    para(left, f"Số: {number}", center=True, size=12)
    para(left, "V/v trả lời đề nghị về tài khoản thư điện tử công vụ", center=True, size=11)
    para(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, center=True, size=12)
    para(right, "Độc lập - Tự do - Hạnh phúc", bold=True, center=True, underline=True)
    d = letter.done
    para(right, f"Khánh Hòa, ngày {d.day:02d} tháng {d.month:02d} năm {d.year}", italic=True, center=True)

    para(doc)
    para(doc, f"Kính gửi: {letter.org_name}", center=True)
    para(doc)
    body = (
        f"Thực hiện Quy chế quản lý, vận hành và sử dụng Hệ thống thư điện tử công vụ tỉnh Khánh Hòa, "
        f"{issuer} đã tiếp nhận đề nghị của {letter.org_name} ngày {letter.received:%d/%m/%Y} và đã thực hiện "
        f"xong ngày {letter.done:%d/%m/%Y} các nội dung sau:"
    )
    para(doc, body).paragraph_format.first_line_indent = Cm(1)

    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    for cell, text in zip(
        table.rows[0].cells, ("STT", "Họ và tên", "Chức vụ", "Địa chỉ thư điện tử", "Nội dung"), strict=True
    ):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for index, event in enumerate(letter.events, 1):
        state = event.state or {}
        cells = table.add_row().cells
        values = (
            str(index),
            state.get("name") or "",
            state.get("title") or "",
            event.address,
            _what(event, letter.names),
        )
        for cell, text in zip(cells, values, strict=True):
            cell.text = text

    para(doc)
    notes = [
        "Địa chỉ đăng nhập: https://mail.khanhhoa.gov.vn. Mật khẩu ban đầu được gửi riêng cho từng người sử dụng, "
        "không gửi kèm văn bản này; người sử dụng đổi mật khẩu ngay khi đăng nhập lần đầu (Điều 6 Quy chế).",
        "Đề nghị quý cơ quan thường xuyên rà soát danh sách tài khoản và thông báo kịp thời các trường hợp chuyển "
        "công tác, nghỉ hưu, thôi việc (khoản 5 Điều 10 Quy chế). Mọi vướng mắc xin liên hệ hộp thư "
        "hotrothudientu@khanhhoa.gov.vn.",
    ]
    for text in notes:
        para(doc, text).paragraph_format.first_line_indent = Cm(1)
    para(doc, f"{issuer} trân trọng thông báo./.").paragraph_format.first_line_indent = Cm(1)
    para(doc)

    sign = doc.add_table(rows=1, cols=2)
    left, right = sign.rows[0].cells
    p = para(left, "Nơi nhận:", bold=True, italic=True, size=12)
    p.alignment = WD_ALIGN_PARAGRAPH.LEFT
    for line in ("- Như trên;", f"- {parent} (để b/c);", "- Lưu: VT."):
        para(left, line, size=11)
    para(right, signer_title.upper(), bold=True, center=True)
    for _ in range(3):
        para(right)
    para(right, signer, bold=True, center=True)
    doc.core_properties.title = f"Trả lời đề nghị tài khoản thư điện tử công vụ — {letter.org_name}"
    doc.core_properties.author = issuer
    doc.save(str(path))


def write_pdf(
    letter: Letter, path: str | Path, *, number: str, issuer: str, parent: str, signer: str, signer_title: str
) -> None:
    """The same letter as PDF (DejaVu Serif, which covers Vietnamese), for units that want a printable copy."""
    import matplotlib  # noqa: PLC0415 — only for the path of its bundled fonts
    from reportlab.lib import colors  # noqa: PLC0415
    from reportlab.lib.pagesizes import A4  # noqa: PLC0415
    from reportlab.lib.styles import ParagraphStyle  # noqa: PLC0415
    from reportlab.lib.units import cm  # noqa: PLC0415
    from reportlab.pdfbase import pdfmetrics  # noqa: PLC0415
    from reportlab.pdfbase.ttfonts import TTFont  # noqa: PLC0415
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # noqa: PLC0415

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    if "DejaVuSerif" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSerif", str(fonts / "DejaVuSerif.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSerif-Bold", str(fonts / "DejaVuSerif-Bold.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSerif-Italic", str(fonts / "DejaVuSerif-Italic.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSerif-BoldItalic", str(fonts / "DejaVuSerif-BoldItalic.ttf")))
        pdfmetrics.registerFontFamily(
            "DejaVuSerif",
            normal="DejaVuSerif",
            bold="DejaVuSerif-Bold",
            italic="DejaVuSerif-Italic",
            boldItalic="DejaVuSerif-BoldItalic",
        )
    base = ParagraphStyle("b", fontName="DejaVuSerif", fontSize=11.5, leading=16)
    center = ParagraphStyle("c", parent=base, alignment=1, fontSize=9.5, leading=13)
    bold_c = ParagraphStyle("bc", parent=center, fontName="DejaVuSerif-Bold")
    italic_c = ParagraphStyle("ic", parent=center, fontName="DejaVuSerif-Italic")
    body = ParagraphStyle("body", parent=base, firstLineIndent=1 * cm, alignment=4, spaceAfter=4)
    small = ParagraphStyle("s", parent=base, fontSize=9.5, leading=12)

    d = letter.done
    left = [
        Paragraph(parent.upper(), center),
        Paragraph(issuer.upper(), bold_c),
        Spacer(1, 4),
        Paragraph(f"Số: {number}", center),
        Paragraph(
            "V/v trả lời đề nghị về tài khoản thư điện tử công vụ", ParagraphStyle("v", parent=center, fontSize=9.5)
        ),
    ]
    right = [
        Paragraph("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold_c),
        Paragraph("<u>Độc lập - Tự do - Hạnh phúc</u>", bold_c),
        Spacer(1, 8),
        Paragraph(f"Khánh Hòa, ngày {d.day:02d} tháng {d.month:02d} năm {d.year}", italic_c),
    ]
    head = Table([[left, right]], colWidths=[6.8 * cm, 9.2 * cm])
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [
        head,
        Spacer(1, 14),
        Paragraph(f"Kính gửi: {letter.org_name}", ParagraphStyle("k", parent=base, alignment=1)),
        Spacer(1, 10),
    ]
    story.append(
        Paragraph(
            f"Thực hiện Quy chế quản lý, vận hành và sử dụng Hệ thống thư điện tử công vụ tỉnh Khánh Hòa, {issuer} đã "
            f"tiếp nhận đề nghị của {letter.org_name} ngày {letter.received:%d/%m/%Y} và đã thực hiện xong ngày "
            f"{letter.done:%d/%m/%Y} các nội dung sau:",
            body,
        )
    )
    rows = [
        [Paragraph(f"<b>{t}</b>", small) for t in ("STT", "Họ và tên", "Chức vụ", "Địa chỉ thư điện tử", "Nội dung")]
    ]
    for index, event in enumerate(letter.events, 1):
        state = event.state or {}
        rows.append(
            [
                Paragraph(str(index), small),
                Paragraph(state.get("name", ""), small),
                Paragraph(state.get("title") or "", small),
                Paragraph(event.address, small),
                Paragraph(_what(event, letter.names), small),
            ]
        )
    table = Table(rows, colWidths=[1.3 * cm, 3.4 * cm, 2.8 * cm, 5.0 * cm, 3.5 * cm], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [Spacer(1, 4), table, Spacer(1, 8)]
    story.append(
        Paragraph(
            "Địa chỉ đăng nhập: https://mail.khanhhoa.gov.vn. Mật khẩu ban đầu được gửi riêng cho từng người sử dụng, "
            "không gửi kèm văn bản này; người sử dụng đổi mật khẩu ngay khi đăng nhập lần đầu (Điều 6 Quy chế).",
            body,
        )
    )
    story.append(
        Paragraph(
            "Đề nghị quý cơ quan thường xuyên rà soát danh sách tài khoản và thông báo kịp thời các trường hợp chuyển "
            "công tác, nghỉ hưu, thôi việc (khoản 5 Điều 10 Quy chế). Mọi vướng mắc xin liên hệ hộp thư "
            "hotrothudientu@khanhhoa.gov.vn.",
            body,
        )
    )
    story += [Paragraph(f"{issuer} trân trọng thông báo./.", body), Spacer(1, 12)]
    recipients = [
        Paragraph("<b><i>Nơi nhận:</i></b>", small),
        Paragraph("- Như trên;", small),
        Paragraph(f"- {parent} (để b/c);", small),
        Paragraph("- Lưu: VT.", small),
    ]
    signature = [Paragraph(signer_title.upper(), bold_c), Spacer(1, 50), Paragraph(signer, bold_c)]
    sign = Table([[recipients, signature]], colWidths=[8 * cm, 8 * cm])
    sign.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(sign)
    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=3 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=f"Trả lời đề nghị — {letter.org_name}",
        author=issuer,
    )
    doc.build(story)
