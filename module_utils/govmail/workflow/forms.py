"""The Appendix request form, filled in as a Word (.docx) or Excel (.xlsx) document, turned into requests.

The form has two tables — unit accounts (No., unit name, request) and personal accounts (No.,
full name, position, unit, request, and the previous unit for a change of information) — and
the contact person. Tables are found by their header words, in Vietnamese or English, wherever
they are in the document; each data row becomes one request (``requests.py``) in a single
session, so the whole form is validated together and written only if every mapped row is valid.
Rows that cannot be mapped are reported with their table, row number and the reason.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..model.addresses import body_address, org_address, unit_address
from ..model.edits import EditError
from ..model.names import nfc
from ..model.orgs import PLACE_WORD, Org, Tree
from . import requests

# Request words → request kind. Checked in this order (the longer phrases first).
REQUEST_WORDS = (
    ("reset", ("cap lai mat khau", "dat lai mat khau", "reset password", "reset")),
    ("change", ("thay doi thong tin", "thay doi", "dieu chinh", "change info", "change")),
    ("revoke", ("thu hoi", "huy", "revoke", "delete")),
    ("suspend", ("tam khoa", "khoa", "suspend")),
    ("restore", ("khoi phuc", "mo khoa", "restore")),
    ("new", ("tao moi", "cap moi", "tao", "dang ky moi", "create", "new")),
)
# Words in a revocation's request or note → reason code (R8.2d and the rest).
REASON_WORDS = (
    ("transferred", ("chuyen cong tac", "dieu chuyen", "luan chuyen", "chuyen sang", "transfer")),
    ("retired", ("nghi huu", "retire")),
    ("resigned", ("thoi viec", "nghi viec", "resign")),
    ("compromised", ("lo mat khau", "bi chiem", "ma doc", "thu rac", "compromis")),
    ("inactive", ("khong su dung", "khong hoat dong", "inactive")),
)
COLUMNS = {
    "no": ("stt", "tt", "so tt", "no", "no."),
    "name": ("ho va ten", "ho ten", "full name", "name"),
    "title": ("chuc vu", "position", "title"),
    "previous": ("don vi cu", "don vi truoc", "noi cong tac cu", "previous"),
    "unit": ("don vi", "ten don vi", "co quan", "unit"),
    "request": ("yeu cau", "noi dung de nghi", "de nghi", "request"),
    "note": ("ghi chu", "ly do", "note", "reason"),
}


def fold(text: object) -> str:
    """Lower case, no accents, single spaces: 'Cấp lại  Mật khẩu' → 'cap lai mat khau'."""
    text = unicodedata.normalize("NFD", str(text or "")).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return " ".join(re.sub(r"[^\w/.]+", " ", text.lower()).split())


def request_kind(text: str) -> str | None:
    folded = fold(text)
    for kind, words in REQUEST_WORDS:
        if any(re.search(rf"\b{re.escape(w)}\b", folded) for w in words):
            return kind
    return None


def reason_code(*texts: str) -> str | None:
    folded = " ".join(fold(t) for t in texts if t)
    for code, words in REASON_WORDS:
        if any(w in folded for w in words):
            return code
    return None


@dataclass
class Table:
    kind: str  # "person" or "unit"
    columns: dict[str, int]
    rows: list[tuple[int, list[str]]]  # (row number on the form, cells)


@dataclass
class Form:
    path: str
    tables: list[Table] = field(default_factory=list)
    contact: dict[str, str] = field(default_factory=dict)


def _header(cells: list[str]) -> dict[str, int] | None:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        folded = fold(cell)
        for key, words in COLUMNS.items():
            if key not in columns and any(folded == w or folded.startswith(w + " ") for w in words):
                columns[key] = index
                break
    return columns if "request" in columns and ("name" in columns or "unit" in columns) else None


def _tables(grid: list[list[str]]) -> list[Table]:
    """Find header rows in a grid of cells and collect the numbered rows under each."""
    out: list[Table] = []
    current: Table | None = None
    for cells in grid:
        columns = _header(cells)
        if columns:
            current = Table("person" if "name" in columns else "unit", columns, [])
            out.append(current)
            continue
        if current is None:
            continue
        first = cells[current.columns.get("no", 0)].strip() if cells else ""
        if re.fullmatch(r"\d+\.?", first):
            current.rows.append((int(first.rstrip(".")), cells))
        elif any(c.strip() for c in cells) and not re.fullmatch(r"\(?\d+\)?", first or "x"):
            current = None  # the table ended
    return out


_CONTACT = {
    "name": ("ho va ten", "ho ten"),
    "title": ("chuc vu",),
    "unit": ("don vi", "co quan"),
    "phone": ("dien thoai", "so dien thoai"),
    "email": ("thu dien tu", "email", "e mail"),
}


def _contact(lines: list[str]) -> dict[str, str]:
    """The contact person: the 'Họ và tên: …' lines after 'Người liên hệ'."""
    out: dict[str, str] = {}
    started = False
    for line in lines:
        folded = fold(line)
        if "nguoi lien he" in folded or "contact person" in folded:
            started = True
        if not started or ":" not in line:
            continue
        key_text, value = line.split(":", 1)
        key = fold(key_text)
        for field_name, words in _CONTACT.items():
            if field_name not in out and any(key.endswith(w) for w in words) and value.strip():
                out[field_name] = nfc(value).strip()
    return out


def read_docx(path: str | Path) -> Form:
    import docx  # noqa: PLC0415 — python-docx only when a Word form is read

    document = docx.Document(str(path))
    form = Form(str(path))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        grid = [[nfc(c.text).strip() for c in row.cells] for row in table.rows]
        form.tables += _tables(grid)
        lines += [" ".join(dict.fromkeys(row)) for row in grid]  # a contact block may be a table too
    form.contact = _contact(lines)
    return form


def read_xlsx(path: str | Path) -> Form:
    import openpyxl  # noqa: PLC0415 — openpyxl only when a spreadsheet form is read

    book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    form = Form(str(path))
    lines = []
    for sheet in book.worksheets:
        grid = []
        for row in sheet.iter_rows(values_only=True):
            cells = ["" if v is None else nfc(str(v)).strip() for v in row]
            if isinstance(row[0] if row else None, float) and float(row[0]).is_integer():
                cells[0] = str(int(row[0]))
            grid.append(cells)
            lines.append(" ".join(c for c in cells if c))
        form.tables += _tables(grid)
    form.contact = _contact(lines)
    return form


def read(path: str | Path) -> Form:
    suffix = Path(path).suffix.lower()
    if suffix == ".docx":
        return read_docx(path)
    if suffix == ".xlsx":
        return read_xlsx(path)
    raise requests.RequestError(
        f"{path}: only .docx and .xlsx forms are read (save a .doc or .xls form in the new format)"
    )


@dataclass
class Unmapped:
    table: str
    row: int
    why: str

    def __str__(self) -> str:
        label = "personal accounts" if self.table == "person" else "unit accounts"
        return f"{label}, row {self.row}: {self.why}"


def _resolve_unit(tree: Tree, text: str, default_org: str | None) -> tuple[Org, str | None]:
    """'Phòng Pháp chế' (in the form's unit), 'Sở Y tế', or 'Phòng Pháp chế, Sở Khoa học và Công nghệ'."""
    folded = fold(text)
    if not folded and default_org:
        return requests.find_org(tree, default_org), None
    orgs = {o.id: o for o in tree.orgs}

    def org_named(name: str) -> Org | None:
        for org in tree.orgs:
            full = fold(org.name)
            if name in (full, org.id):
                return org
            if org.kind in PLACE_WORD and name.endswith(" " + full):  # "UBND xã Ninh Phước"
                return org
        return None

    found = org_named(folded)
    if found:
        return found, None
    parts = [p for p in re.split(r"\s*[,;–-]\s+|\s+-\s*", nfc(text)) if p.strip()]
    candidates = [orgs[default_org]] if default_org in orgs else []
    if len(parts) > 1:
        parent = org_named(fold(parts[-1]))
        if parent:
            candidates = [parent]
            folded = fold(" ".join(parts[:-1]))
    for org in candidates or tree.orgs:
        hits = [u for u in org.units if fold(u.name) == folded or u.id == folded]
        if len(hits) == 1:
            return org, hits[0].path
    raise requests.RequestError(f"unit {text!r} matches no unit file and no unit declared in one")


def _cell(cells: list[str], columns: dict[str, int], key: str) -> str:
    index = columns.get(key)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _person_row(s: requests.Session, columns: dict[str, int], cells: list[str], org_id: str | None, date) -> str:
    name, title = _cell(cells, columns, "name"), _cell(cells, columns, "title")
    request, note = _cell(cells, columns, "request"), _cell(cells, columns, "note")
    kind = request_kind(request)
    if kind is None:
        raise requests.RequestError(
            f"request {request!r} is none of: Tạo mới, Cấp lại mật khẩu, Thu hồi, "
            "Thay đổi thông tin (or Tạm khóa, Khôi phục)"
        )
    if not name:
        raise requests.RequestError("the full name is empty")
    org, unit = _resolve_unit(s.tree, _cell(cells, columns, "unit"), org_id)
    if kind == "new":
        if not title:
            raise requests.RequestError("a new account needs the position (chức vụ)")
        requests.op_new(s, org_id=org.id, name=name, title=title, unit=unit)
        return kind
    if kind == "change":
        previous = _cell(cells, columns, "previous")
        old_org, old_unit = _resolve_unit(s.tree, previous, org_id) if previous else (org, None)
        who = {"name": name, "org_id": old_org.id, "unit": old_unit}
        requests.op_change(s, who=who, title=title or None, unit=unit, to_org=org.id if org.id != old_org.id else None)
        return kind
    who = {"name": name, "org_id": org.id, "unit": unit}
    if kind == "reset":
        requests.op_reset(s, who=who, date=date)
    elif kind == "restore":
        requests.op_status(s, kind="restore", who=who, date=date)
    else:
        code = reason_code(request, note) or "requested"
        more = note or f"theo phiếu đề nghị {Path(s.form_path).name}"
        requests.op_status(s, kind=kind, who=who, reason=code, reason_more=more, date=date)
    return kind


def _body_named(tree: Tree, text: str) -> str | None:
    """'Ủy ban nhân dân xã Ninh Phước', 'UBND xã Ninh Phước', 'Đảng ủy phường Phan Rang' → that body's address."""
    folded = fold(text)
    words = {"du": ("dang uy",), "ubnd": ("uy ban nhan dan", "ubnd"), "hdnd": ("hoi dong nhan dan", "hdnd")}
    for org in tree.orgs:
        if org.kind not in PLACE_WORD:
            continue
        place = fold(f"{PLACE_WORD[org.kind]} {org.name}")
        for body in org.bodies:
            if any(folded in (f"{w} {place}", f"{w} {fold(org.name)}") for w in words[body]):
                return body_address(body, org.id, tree.province.domain)
    return None


def _unit_row(s: requests.Session, columns: dict[str, int], cells: list[str], org_id: str | None, date) -> str:
    """A row of the unit-accounts table: reset, suspend, restore or revoke a unit's, a commune body's or
    an organisation's own mailbox."""
    name, request, note = (_cell(cells, columns, k) for k in ("unit", "request", "note"))
    kind = request_kind(request)
    if kind == "new":
        raise requests.RequestError(
            f"unit account {name!r}: a new unit is declared with its abbreviation (R5.1c); "
            "add it to units: in the file by hand"
        )
    if kind not in ("reset", "suspend", "restore", "revoke"):
        what = f"request {request!r}" if kind is None else f"{request!r} for a unit account"
        raise requests.RequestError(f"unit account {name!r}: {what} cannot be made from the form; ask TTCĐS")
    address = _body_named(s.tree, name)
    if address is None:
        try:
            org, unit = _resolve_unit(s.tree, name, org_id)
        except requests.RequestError:
            raise requests.RequestError(f"unit account {name!r}: no declared unit has this name") from None
        if unit is None:
            own = org_address(org.id, org.kind, s.tree.province.domain, s.tree.province.province_code)
            if own is None:
                raise requests.RequestError(
                    f"unit account {name!r}: a commune has no mailbox of its own; name the body (UBND xã …)"
                )
            address = own
        else:
            found = next(u for u in org.units if u.path == unit)
            address = unit_address(found.id, found.parent_id, s.tree.province.domain)
    who = {"address": address}
    if requests.find_mailbox(s.tree, address) is None:
        raise requests.RequestError(f"unit account {name!r} has no mailbox ({address} is not declared)")
    if kind == "reset":
        requests.op_reset(s, who=who, date=date)
    elif kind == "restore":
        requests.op_status(s, kind="restore", who=who, date=date)
    else:
        code = reason_code(request, note) or "requested"
        more = note or f"theo phiếu đề nghị {Path(s.form_path).name}"
        requests.op_status(s, kind=kind, who=who, reason=code, reason_more=more, date=date)
    return kind


def import_form(
    root, path: str | Path, org_id: str | None = None, date=None, write: bool = True
) -> tuple[requests.Outcome, list[Unmapped], Form]:
    form = read(path)
    s = requests.Session(root)
    s.form_path = str(path)
    unmapped: list[Unmapped] = []
    if not form.tables:
        raise requests.RequestError(
            f"{path}: no table with the Appendix's columns (STT, Họ và tên / Tên đơn vị, Yêu cầu) was found"
        )
    for table in form.tables:
        for number, cells in table.rows:
            try:
                if table.kind == "unit":
                    _unit_row(s, table.columns, cells, org_id, date)
                else:
                    _person_row(s, table.columns, cells, org_id, date)
            except (requests.RequestError, EditError) as exc:
                unmapped.append(Unmapped(table.kind, number, str(exc)))
    outcome = s.commit(write) if s.texts else s.outcome
    return outcome, unmapped, form
