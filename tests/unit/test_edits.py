"""edits.py keeps every byte it does not mean to change: comments, quoting, CRLF, a missing final newline."""

import difflib
import shutil

import pytest

from govmail.cli.main import main
from govmail.model.edits import EditError, delete_key, set_key
from govmail.model.yamlsource import parse
from helpers import REPO


def node(text, path=("people", 0)):
    src, problems = parse("x.yaml", text)
    assert not problems
    return src.nodes[path]


def test_replacing_a_value_keeps_its_comment_and_the_other_lines():
    text = "people:\n  - name: A B   # who\n    title: 'CV'    # quoted\n    unit: x\n"
    assert set_key(text, node(text), "title", "Trưởng phòng") == (
        "people:\n  - name: A B   # who\n    title: Trưởng phòng    # quoted\n    unit: x\n"
    )


def test_crlf_files_stay_crlf():
    text = "people:\r\n  - name: A B\r\n    title: CV\r\n"
    out = set_key(text, node(text), "status", "suspended")
    assert out == "people:\r\n  - name: A B\r\n    title: CV\r\n    status: suspended\r\n"


def test_a_file_without_a_final_newline():
    text = "people:\n  - name: A B\n    title: CV"
    assert (
        set_key(text, node(text), "reset", "2026-11-28")
        == 'people:\n  - name: A B\n    title: CV\n    reset: "2026-11-28"\n'
    )


def test_keys_go_in_the_documented_order():
    text = "people:\n  - name: A B\n    title: CV\n    address: ab@x.vn\n    reset: r1\n"
    out = set_key(text, node(text), "status", "revoked")
    assert out == "people:\n  - name: A B\n    title: CV\n    address: ab@x.vn\n    status: revoked\n    reset: r1\n"


def test_delete_key_block_and_flow():
    text = "people:\n  - name: A B\n    reason: inactive  # why\n    since: 2026-01-01\n"
    assert delete_key(text, node(text), "reason") == "people:\n  - name: A B\n    since: 2026-01-01\n"
    flow = "people:\n  - {name: A B, reason: inactive, since: 2026-01-01}\n"
    assert delete_key(flow, node(flow), "reason") == "people:\n  - {name: A B, since: 2026-01-01}\n"
    assert delete_key(flow, node(flow), "name") == "people:\n  - {reason: inactive, since: 2026-01-01}\n"


def test_block_text_values_are_left_to_a_person():
    text = "people:\n  - name: A B\n    title: |\n      CV\n"
    with pytest.raises(EditError, match="block text"):
        set_key(text, node(text), "title", "x")


@pytest.mark.parametrize(
    ("args", "changed"),
    [
        (
            ["new", "--org", "skhcn", "--name", "Trần Thị Mai", "--title", "Chuyên viên", "--unit", "ppc"],
            {
                "+  - name: Trần Thị Mai",
                "+    title: Chuyên viên",
                "+    unit: ppc",
                "+    address: ttmai@khanhhoa.gov.vn",
            },
        ),
        (
            ["suspend", "--address", "nhhen", "--reason", "inactive", "--date", "2026-11-02"],
            {"+    status: suspended", "+    reason: inactive", "+    since: 2026-11-02"},
        ),
        (["reset", "--address", "nvhung.skhcn", "--date", "2026-11-02"], {'+    reset: "2026-11-02"'}),
        (
            ["change", "--address", "nvhung.skhcn", "--title", "Phó Giám đốc"],
            {"-    title: Chuyên viên", "+    title: Phó Giám đốc"},
        ),
    ],
)
def test_requests_on_the_sample_files_change_only_their_lines(tmp_path, args, changed):
    shutil.copytree(REPO / "accounts", tmp_path / "accounts")
    shutil.copytree(REPO / "data", tmp_path / "data")
    before = (REPO / "accounts/departments/skhcn.yaml").read_text(encoding="utf-8")
    assert main(["request", *args, "--dir", str(tmp_path / "accounts")]) == 0
    after = (tmp_path / "accounts/departments/skhcn.yaml").read_text(encoding="utf-8")
    diff = {
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    }
    assert diff == changed
    for other in (REPO / "accounts").rglob("*.yaml"):
        if other.name != "skhcn.yaml":
            assert (tmp_path / "accounts" / other.relative_to(REPO / "accounts")).read_bytes() == other.read_bytes()
