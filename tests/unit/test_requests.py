"""`govmail request …`: each request edits exactly the entry it names, validates first, writes nothing on error."""

import datetime as dt

import pytest

from govmail.cli.main import main
from govmail.model.edits import scalar
from govmail.workflow.requests import next_reset_token
from helpers import snapshot

SKHCN = """\
# yaml-language-server: $schema=../module_utils/govmail/schema/org.schema.json
org:
  id: skhcn
  name: Sở Khoa học và Công nghệ
  kind: province_body
  owners: [skhcn-it]   # the IT team
units:
  - {id: ppc, name: Phòng Pháp chế}
  - id: ttcds
    name: Trung tâm Chuyển đổi số
people:
  # legal office
  - name: Nguyễn Văn Bình    # head
    title: 'Trưởng phòng'
    unit: ppc
    address: nvbinh@khanhhoa.gov.vn
  - {name: Lê Thị Na, title: Chuyên viên, address: ltna@khanhhoa.gov.vn}
  - name: Nguyễn Văn Hùng
    title: Chuyên viên
    unit: ttcds
    address: nvhung@khanhhoa.gov.vn
    reset: "2026-11-28"
"""

SYT = """\
org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt-tccb]}
people: []
"""


@pytest.fixture
def root(tree_dir):
    return tree_dir({"departments/skhcn.yaml": SKHCN, "departments/syt.yaml": SYT})


def text(root, name="skhcn"):
    return (root / "departments" / f"{name}.yaml").read_text(encoding="utf-8")


def run(root, *args):
    return main(["request", *args, "--dir", str(root)])


def test_new_appends_an_entry_and_allocates_its_address(root, capsys):
    assert run(root, "new", "--org", "skhcn", "--name", "Trần Thị Mai", "--title", "Chuyên viên", "--unit", "ppc") == 0
    assert text(root) == SKHCN + (
        "  - name: Trần Thị Mai\n    title: Chuyên viên\n    unit: ppc\n    address: ttmai@khanhhoa.gov.vn\n"
    )
    assert "Trần Thị Mai → ttmai@khanhhoa.gov.vn" in capsys.readouterr().out


def test_new_into_an_empty_flow_list_and_a_collision_gets_the_org_suffix(root):
    assert run(root, "new", "--org", "syt", "--name", "Nguyễn Văn Bình", "--title", "Bác sĩ") == 0
    assert text(root, "syt") == (
        "org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt-tccb]}\n"
        "people:\n  - name: Nguyễn Văn Bình\n    title: Bác sĩ\n    address: nvbinh.syt@khanhhoa.gov.vn\n"
    )


def test_new_with_given_name_first(root):
    assert run(root, "new", "--org", "syt", "--name", "H'Hen Niê", "--title", "Kỹ sư", "--given-name", "H'Hen") == 0
    assert "    given_name: H'Hen\n    address: nhhen@khanhhoa.gov.vn\n" in text(root, "syt")


def test_suspend_sets_status_reason_since_and_nothing_else(root):
    assert (
        run(
            root,
            "suspend",
            "--address",
            "nvbinh",
            "--reason",
            "compromised",
            "lộ",
            "mật",
            "khẩu",
            "--date",
            "2026-11-20",
        )
        == 0
    )
    assert text(root) == SKHCN.replace(
        "    address: nvbinh@khanhhoa.gov.vn\n",
        "    address: nvbinh@khanhhoa.gov.vn\n    status: suspended\n    reason: compromised lộ mật khẩu\n"
        "    since: 2026-11-20\n",
    )


def test_suspend_then_restore_on_a_flow_entry(root):
    assert (
        run(root, "suspend", "--name", "Lê Thị Na", "--org", "skhcn", "--reason", "inactive", "--date", "2026-11-01")
        == 0
    )
    assert (
        "  - {name: Lê Thị Na, title: Chuyên viên, address: ltna@khanhhoa.gov.vn, status: suspended, "
        "reason: inactive, since: 2026-11-01}\n" in text(root)
    )
    assert run(root, "restore", "--address", "ltna@khanhhoa.gov.vn", "--date", "2026-11-25") == 0
    assert (
        "  - {name: Lê Thị Na, title: Chuyên viên, address: ltna@khanhhoa.gov.vn, status: active, "
        "since: 2026-11-25}\n" in text(root)
    )


def test_revoke_requires_a_known_reason_code(root, capsys):
    before = snapshot(root)
    assert run(root, "revoke", "--address", "nvbinh", "--reason", "fired") == 1
    assert "reason must start with one of: inactive, compromised" in capsys.readouterr().err
    assert snapshot(root) == before
    assert run(root, "revoke", "--address", "nvbinh", "--reason", "retired", "--date", "2026-11-27") == 0
    assert "    status: revoked\n    reason: retired\n    since: 2026-11-27\n" in text(root)
    assert run(root, "restore", "--address", "nvbinh") == 1
    assert "only a suspended account can be restored" in capsys.readouterr().err


def test_reset_writes_the_date_then_date_2_the_same_day(root):
    assert run(root, "reset", "--address", "nvbinh", "--date", "2026-11-28") == 0
    assert '    address: nvbinh@khanhhoa.gov.vn\n    reset: "2026-11-28"\n' in text(root)
    # Hùng already has a reset token of that day: the next one is date-2, in place
    assert run(root, "reset", "--address", "nvhung", "--date", "2026-11-28") == 0
    assert "    reset: 2026-11-28-2\n" in text(root)
    assert run(root, "reset", "--address", "nvhung", "--date", "2026-11-28") == 0
    assert "    reset: 2026-11-28-3\n" in text(root)


def test_reset_token_sequence():
    day = dt.date(2026, 11, 28)
    assert next_reset_token(None, day) == "2026-11-28"
    assert next_reset_token("2026-11-27", day) == "2026-11-28"
    assert next_reset_token("2026-11-28", day) == "2026-11-28-2"
    assert next_reset_token("2026-11-28-9", day) == "2026-11-28-10"


def test_change_of_name_keeps_the_address(root):
    assert run(root, "change", "--address", "nvbinh", "--new-name", "Nguyễn Văn Bính", "--title", "Phó Giám đốc") == 0
    assert text(root) == SKHCN.replace(
        "  - name: Nguyễn Văn Bình    # head\n    title: 'Trưởng phòng'",
        "  - name: Nguyễn Văn Bính    # head\n    title: Phó Giám đốc",
    )


def test_change_to_another_org_moves_the_entry_with_its_address(root):
    assert run(root, "change", "--address", "nvhung", "--to-org", "syt", "--title", "Phó Giám đốc") == 0
    assert "Nguyễn Văn Hùng" not in text(root)
    assert text(root, "syt").endswith(
        "people:\n  - name: Nguyễn Văn Hùng\n    title: Phó Giám đốc\n    address: nvhung@khanhhoa.gov.vn\n"
        '    reset: "2026-11-28"\n'
    )


def test_errors_name_the_problem_and_write_nothing(root, capsys):
    before = snapshot(root)
    assert run(root, "new", "--org", "skhcn", "--name", "NguyÔn V¨n B×nh", "--title", "CV") == 1
    err = capsys.readouterr().err
    assert f"{root}/departments/skhcn.yaml:23: people[3].name:" in err
    assert "nothing was written" in err
    assert run(root, "new", "--org", "skhcn", "--name", "Trần Mai", "--title", "CV", "--unit", "vp") == 1
    assert "people[3].unit: unknown unit path 'vp'" in capsys.readouterr().err
    assert run(root, "new", "--org", "xyz", "--name", "Trần Mai", "--title", "CV") == 1
    assert "no unit file has org.id 'xyz'" in capsys.readouterr().err
    assert run(root, "suspend", "--address", "nobody", "--reason", "inactive") == 1
    assert "no person has the address nobody@khanhhoa.gov.vn" in capsys.readouterr().err
    assert run(root, "suspend", "--address", "nvbinh", "--reason", "inactive", "--date", "2999-01-01") == 1
    assert "people[0].since: 2999-01-01 is in the future" in capsys.readouterr().err
    assert run(root, "change", "--address", "nvbinh") == 1
    assert snapshot(root) == before


def test_dry_run_writes_nothing(root, capsys):
    before = snapshot(root)
    assert run(root, "new", "--org", "skhcn", "--name", "Trần Thị Mai", "--title", "CV", "--dry-run") == 0
    assert "Would change 1 file(s)" in capsys.readouterr().out
    assert snapshot(root) == before


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("Chuyên viên", "Chuyên viên"),
        ("2026-11-28", '"2026-11-28"'),
        ("yes", '"yes"'),
        ("a: b", '"a: b"'),
        ("x # y", '"x # y"'),
        ("123", '"123"'),
        (dt.date(2026, 1, 2), "2026-01-02"),
        ("[x]", '"[x]"'),
    ],
)
def test_scalars_read_back_as_the_same_string(value, rendered):
    assert scalar(value) == rendered
