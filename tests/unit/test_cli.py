"""The govmail command on a tree: exit codes and output of validate, allocate, list and plan."""

import json

from govmail.cli.main import main
from helpers import snapshot

ORG = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [it]}
units: [{id: ppc, name: Phòng Pháp chế}]
people:
  - {name: Nguyễn Văn Bình, title: Trưởng phòng, unit: ppc}
  - {name: Lê Na, title: CV, address: lna@khanhhoa.gov.vn, status: suspended, reason: inactive, since: "2026-05-01"}
"""


def test_validate_ok(tree_dir, capsys):
    root = tree_dir({"skhcn.yaml": ORG})
    assert main(["validate", str(root)]) == 0
    assert capsys.readouterr().out.strip() == f"{root}: 1 unit file(s), 2 people: valid"


def test_validate_reports_every_error_not_just_the_first(tree_dir, capsys):
    bad = ORG.replace("Trưởng phòng, unit: ppc", "Trưởng phòng, unit: vp").replace("kind: province_body", "kind: x")
    root = tree_dir({"skhcn.yaml": bad, "syt.yaml": "org: {id: syt, name: Sở Y tế, kind: province_body, owners: []}\n"})
    assert main(["validate", str(root)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{root}/skhcn.yaml:1: org.kind: 'x' is not one of: province_body, commune, ward, special_zone, other_body",
        f"{root}/syt.yaml:1: org.owners: must not be empty",
        "2 error(s); nothing was written.",
    ]


def test_allocate_check_then_write_then_idempotent(tree_dir, capsys):
    root = tree_dir({"skhcn.yaml": ORG})
    before = snapshot(root)
    assert main(["allocate", str(root), "--check"]) == 1
    assert snapshot(root) == before
    assert f"{root}/skhcn.yaml:4: Nguyễn Văn Bình → nvbinh@khanhhoa.gov.vn" in capsys.readouterr().out
    assert main(["allocate", str(root)]) == 0
    after = snapshot(root)
    assert after != before
    assert main(["allocate", str(root)]) == 0
    assert main(["allocate", str(root), "--check"]) == 0
    assert snapshot(root) == after


def test_list_json_has_every_account_with_the_contract_fields(tree_dir, capsys):
    root = tree_dir({"skhcn.yaml": ORG})
    assert main(["list", str(root), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by = {r["address"]: r for r in rows}
    assert set(by) == {
        "hotrothudientu@khanhhoa.gov.vn",
        "skhcn@khanhhoa.gov.vn",
        "ppc.skhcn@khanhhoa.gov.vn",
        "nvbinh@khanhhoa.gov.vn",
        "lna@khanhhoa.gov.vn",
    }
    assert {k: by["nvbinh@khanhhoa.gov.vn"][k] for k in ("kind", "org", "unit", "name", "title", "status")} == {
        "kind": "person",
        "org": "skhcn",
        "unit": "ppc",
        "name": "Nguyễn Văn Bình",
        "title": "Trưởng phòng",
        "status": "active",
    }
    assert by["lna@khanhhoa.gov.vn"]["status"] == "suspended"
    assert by["ppc.skhcn@khanhhoa.gov.vn"]["kind"] == "unit"


def test_plan_formats(tree_dir, capsys):
    root = tree_dir({"skhcn.yaml": ORG})
    assert main(["plan", str(root), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"] == {"total": 5, "by_op": {"create": 5}, "by_org": {"(province)": 1, "skhcn": 4}}
    assert main(["plan", str(root), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("### govmail plan")
    assert "| create | `nvbinh@khanhhoa.gov.vn` | person | `skhcn/ppc` | `Nguyễn Văn Bình` | `active` |" in md
    assert main(["plan", str(root)]) == 0
    assert capsys.readouterr().out.startswith("Plan: 5 change(s): 5 create")


def test_missing_directory_is_an_error(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert f"{tmp_path / 'nope'}: is not a directory" in capsys.readouterr().err
