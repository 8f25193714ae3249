"""`govmail import-form`: filled-in Appendix forms (.docx, .xlsx, generated here) become the same edits."""

import docx
import openpyxl
import pytest

from govmail.cli.main import main
from govmail.workflow.forms import fold, read, reason_code, request_kind
from helpers import snapshot

SKHCN = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn-it]}
units:
  - {id: ppc, name: Phòng Pháp chế}
  - {id: ttcds, name: Trung tâm Chuyển đổi số}
people:
  - name: Nguyễn Văn Bình
    title: Chuyên viên
    unit: ppc
    address: nvbinh@khanhhoa.gov.vn
  - name: Phạm Quốc Huy
    title: Chuyên viên
    address: pqhuy@khanhhoa.gov.vn
  - name: Lê Thị Thu
    title: Kế toán
    unit: ttcds
    address: ltthu@khanhhoa.gov.vn
"""
SYT = """\
org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt-tccb]}
people:
  - {name: Trần Thị Hoa, title: Bác sĩ, address: tthoa@khanhhoa.gov.vn}
"""

UNIT_HEAD = ["STT", "Tên đơn vị", "Yêu cầu (Tạo mới/Cấp lại mật khẩu/Thu hồi/Thay đổi thông tin)"]
PERSON_HEAD = ["STT", "Họ và tên", "Chức vụ", "Đơn vị", "Yêu cầu", "Đơn vị cũ (nếu thay đổi)"]
UNIT_ROWS = [
    ["1", "Phòng Kế hoạch – Tài chính", "Tạo mới"],
    ["2", "Trung tâm Chuyển đổi số", "Thu hồi (sáp nhập)"],
    ["3", "Phòng Pháp chế", "Cấp lại mật khẩu"],
]
PERSON_ROWS = [
    ["1", "Trần Thị Mai", "Chuyên viên", "Phòng Pháp chế", "Tạo mới", ""],
    ["2", "Phạm Quốc Huy", "Chuyên viên", "Sở Khoa học và Công nghệ", "Cấp lại mật khẩu", ""],
    ["3", "Nguyễn Văn Bình", "Chuyên viên", "Phòng Pháp chế", "Thu hồi (nghỉ hưu)", ""],
    [
        "4",
        "Lê Thị Thu",
        "Phó Giám đốc",
        "Phòng Pháp chế, Sở Khoa học và Công nghệ",
        "Thay đổi thông tin",
        "Trung tâm Chuyển đổi số",
    ],
    ["5", "Trần Thị Hoa", "Bác sĩ", "Sở Y tế", "Xin cấp quyền quản trị", ""],
    ["6", "Võ Văn Nam", "Chuyên viên", "Phòng Hành chính", "Cấp mới", ""],
]
CONTACT = [
    "Người liên hệ:",
    "Họ và tên: Phạm Quốc Huy",
    "Chức vụ: Chuyên viên Văn phòng Sở",
    "Đơn vị: Sở Khoa học và Công nghệ",
    "Thư điện tử: skhcn@khanhhoa.gov.vn",
]


def make_docx(path):
    doc = docx.Document()
    doc.add_paragraph("PHIẾU ĐỀ NGHỊ TẠO, THAY ĐỔI, THU HỒI TÀI KHOẢN THƯ ĐIỆN TỬ CÔNG VỤ")
    doc.add_paragraph("I. Tài khoản đơn vị")
    for head, rows in ((UNIT_HEAD, UNIT_ROWS), (PERSON_HEAD, PERSON_ROWS)):
        table = doc.add_table(rows=1, cols=len(head))
        for cell, text in zip(table.rows[0].cells, head, strict=True):
            cell.text = text
        for row in rows:
            for cell, text in zip(table.add_row().cells, row, strict=True):
                cell.text = text
        doc.add_paragraph("II. Tài khoản cá nhân")
    for line in CONTACT:
        doc.add_paragraph(line)
    doc.save(path)
    return path


def make_xlsx(path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["PHIẾU ĐỀ NGHỊ"])
    sheet.append(["I. Tài khoản đơn vị"])
    sheet.append(UNIT_HEAD)
    for row in UNIT_ROWS:
        sheet.append([int(row[0]), *row[1:]])  # numbers typed as numbers, as clerks do
    sheet.append([])
    sheet.append(["II. Tài khoản cá nhân"])
    sheet.append(PERSON_HEAD)
    for row in PERSON_ROWS:
        sheet.append([int(row[0]), *row[1:]])
    sheet.append([])
    for line in CONTACT:
        key, _, value = line.partition(":")
        sheet.append([f"{key}:", value.strip()] if value.strip() else [line])
    book.save(path)
    return path


@pytest.fixture
def root(tree_dir):
    return tree_dir({"departments/skhcn.yaml": SKHCN, "departments/syt.yaml": SYT})


def skhcn(root):
    return (root / "departments/skhcn.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("maker", [make_docx, make_xlsx], ids=["docx", "xlsx"])
def test_form_is_read_into_tables_and_contact(tmp_path, maker):
    form = read(maker(tmp_path / f"form.{maker.__name__[-4:]}"))
    assert [(t.kind, [n for n, _ in t.rows]) for t in form.tables] == [
        ("unit", [1, 2, 3]),
        ("person", [1, 2, 3, 4, 5, 6]),
    ]
    assert form.tables[1].columns == {"no": 0, "name": 1, "title": 2, "unit": 3, "request": 4, "previous": 5}
    assert form.contact == {
        "name": "Phạm Quốc Huy",
        "title": "Chuyên viên Văn phòng Sở",
        "unit": "Sở Khoa học và Công nghệ",
        "email": "skhcn@khanhhoa.gov.vn",
    }


@pytest.mark.parametrize("maker", [make_docx, make_xlsx], ids=["docx", "xlsx"])
def test_import_makes_the_edits_and_reports_every_unmapped_row(root, tmp_path, maker, capsys):
    path = maker(tmp_path / f"form.{maker.__name__[-4:]}")
    assert main(["import-form", str(path), "--org", "skhcn", "--date", "2026-11-20", "--dir", str(root)]) == 1
    out, err = capsys.readouterr()
    assert (
        skhcn(root)
        == SKHCN.replace(
            "    address: nvbinh@khanhhoa.gov.vn\n",
            "    address: nvbinh@khanhhoa.gov.vn\n    status: revoked\n"
            f"    reason: retired theo phiếu đề nghị {path.name}\n"
            "    since: 2026-11-20\n",
        )
        .replace(
            "    address: pqhuy@khanhhoa.gov.vn\n", '    address: pqhuy@khanhhoa.gov.vn\n    reset: "2026-11-20"\n'
        )
        .replace("    title: Kế toán\n    unit: ttcds\n", "    title: Phó Giám đốc\n    unit: ppc\n")
        .replace("{id: ppc, name: Phòng Pháp chế}", '{id: ppc, name: Phòng Pháp chế, reset: "2026-11-20"}')
        .replace(
            "{id: ttcds, name: Trung tâm Chuyển đổi số}",
            "{id: ttcds, name: Trung tâm Chuyển đổi số, status: revoked, "
            f"reason: requested theo phiếu đề nghị {path.name}, since: 2026-11-20}}",
        )
        + "  - name: Trần Thị Mai\n    title: Chuyên viên\n    unit: ppc\n    address: ttmai@khanhhoa.gov.vn\n"
    )
    assert "Trần Thị Mai → ttmai@khanhhoa.gov.vn" in out
    assert "Contact person: name: Phạm Quốc Huy" in out
    lines = [line.split(": ", 1)[1] for line in err.splitlines() if line.startswith(str(path))]
    assert lines == [
        "unit accounts, row 1: unit account 'Phòng Kế hoạch – Tài chính': a new unit is declared with its "
        "abbreviation (R5.1c); add it to units: in the file by hand",
        "personal accounts, row 5: request 'Xin cấp quyền quản trị' is none of: Tạo mới, Cấp lại mật khẩu, Thu hồi, "
        "Thay đổi thông tin (or Tạm khóa, Khôi phục)",
        "personal accounts, row 6: unit 'Phòng Hành chính' matches no unit file and no unit declared in one",
    ]
    assert "3 row(s) not mapped" in err


def test_a_form_whose_rows_make_the_tree_invalid_writes_nothing(root, tmp_path, capsys):
    PERSON_ROWS.append(["7", "NguyÔn V¨n Tó", "Chuyên viên", "Phòng Pháp chế", "Tạo mới", ""])
    try:
        path = make_docx(tmp_path / "bad.docx")
    finally:
        PERSON_ROWS.pop()
    before = snapshot(root)
    assert main(["import-form", str(path), "--org", "skhcn", "--dir", str(root)]) == 1
    assert "people[4].name:" in capsys.readouterr().err
    assert snapshot(root) == before


def test_not_a_form(root, tmp_path, capsys):
    doc = docx.Document()
    doc.add_paragraph("Kính gửi TTCĐS")
    doc.save(tmp_path / "letter.docx")
    assert main(["import-form", str(tmp_path / "letter.docx"), "--dir", str(root)]) == 1
    assert "no table with the Appendix's columns" in capsys.readouterr().err
    (tmp_path / "form.doc").write_bytes(b"\xd0\xcf")
    assert main(["import-form", str(tmp_path / "form.doc"), "--dir", str(root)]) == 1
    assert "only .docx and .xlsx forms are read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Tạo mới", "new"),
        ("Cấp mới", "new"),
        ("CẤP LẠI MẬT KHẨU", "reset"),
        ("Thu hồi", "revoke"),
        ("Thay đổi thông tin", "change"),
        ("Tạm khóa", "suspend"),
        ("Khôi phục", "restore"),
        ("reset password", "reset"),
        ("ý kiến khác", None),
    ],
)
def test_request_words(text, kind):
    assert request_kind(text) == kind


def test_reason_words_and_fold():
    assert fold("Cấp lại  Mật khẩu") == "cap lai mat khau"
    assert fold("Đảng ủy") == "dang uy"
    assert reason_code("Thu hồi", "chuyển công tác sang Sở Y tế") == "transferred"
    assert reason_code("Thu hồi (thôi việc)") == "resigned"
    assert reason_code("Thu hồi") is None
