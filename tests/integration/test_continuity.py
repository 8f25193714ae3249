"""`govmail validate --base REF`: issued addresses are never lost or changed, revoked ones never come back."""

import os

import pytest

from gitrepo import Repo
from govmail.cli.main import main
from helpers import PROVINCE

pytestmark = pytest.mark.integration

ORG = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn-it]}
people:
  - {name: Nguyễn Văn Bình, title: CV, address: nvbinh@khanhhoa.gov.vn}
  - {name: Lê Văn Tám, title: CV, address: lvtam@khanhhoa.gov.vn, status: revoked, reason: retired, since: "2026-01-02"}
"""


@pytest.fixture
def repo(tmp_path):
    repo = Repo(tmp_path / "repo")
    repo.commit("start", {"accounts/province.yaml": PROVINCE, "accounts/skhcn.yaml": ORG})
    repo.branch("change")
    return repo


def _validate(repo, capsys):
    cwd = os.getcwd()
    os.chdir(repo.path)
    try:
        code = main(["validate", "accounts", "--base", "main"])
    finally:
        os.chdir(cwd)
    return code, capsys.readouterr().err.splitlines()


def test_a_kept_tree_passes(repo, capsys):
    repo.commit(
        "a new title", {"accounts/skhcn.yaml": ORG.replace("title: CV, address: nvbinh", "title: TP, address: nvbinh")}
    )
    assert _validate(repo, capsys) == (0, [])


def test_a_deleted_or_renamed_entry_is_refused(repo, capsys):
    repo.commit("rename", {"accounts/skhcn.yaml": ORG.replace("address: nvbinh@", "address: binh@")})
    code, err = _validate(repo, capsys)
    assert code == 1
    assert (
        "accounts/skhcn.yaml (at main):3: address: nvbinh@khanhhoa.gov.vn (Nguyễn Văn Bình) was issued and is gone:"
        " entries are never deleted and addresses never change (set status: revoked; keep an old address under aliases)"
    ) in err


def test_an_old_address_kept_as_alias_is_fine(repo, capsys):
    changed = ORG.replace(
        "address: nvbinh@khanhhoa.gov.vn}", "address: nvbinh.skhcn@khanhhoa.gov.vn, aliases: [nvbinh@khanhhoa.gov.vn]}"
    )
    repo.commit("new address, old kept", {"accounts/skhcn.yaml": changed})
    assert _validate(repo, capsys) == (0, [])


def test_a_revoked_address_cannot_come_back(repo, capsys):
    revived = ORG.replace(', status: revoked, reason: retired, since: "2026-01-02"', "")
    repo.commit("revive", {"accounts/skhcn.yaml": revived})
    code, err = _validate(repo, capsys)
    assert code == 1
    assert (
        err[0]
        == "accounts/skhcn.yaml:4: people[1].status: lvtam@khanhhoa.gov.vn was revoked at main; a revoked address is never brought back"
    )


def test_a_revoked_address_cannot_come_back_as_someone_elses_alias(repo, capsys):
    """Attack: the revoked entry gets another address and lvtam@ moves into the aliases of a new entry
    (Postfix would route it to them and let them send as it)."""
    moved = ORG.replace("address: lvtam@khanhhoa.gov.vn,", "address: lvtam2.skhcn@khanhhoa.gov.vn,")
    moved += (
        "  - {name: Lê Văn Tâm, title: CV, address: lvtam.skhcn@khanhhoa.gov.vn, aliases: [lvtam@khanhhoa.gov.vn]}\n"
    )
    repo.commit("alias", {"accounts/skhcn.yaml": moved})
    code, err = _validate(repo, capsys)
    assert code == 1
    assert any(
        "lvtam@khanhhoa.gov.vn was revoked at main; a revoked address is never brought back" in e for e in err
    ), err


def test_an_issued_alias_cannot_move_to_another_person(repo, capsys):
    """Attack: an alias one person held is dropped and handed to another in the same change."""
    start = ORG.replace(
        "address: nvbinh@khanhhoa.gov.vn}", "address: nvbinh@khanhhoa.gov.vn, aliases: [nvbinh.skhcn@khanhhoa.gov.vn]}"
    )
    repo.commit("alias", {"accounts/skhcn.yaml": start})
    repo.merge("change")
    repo.checkout("change")
    repo.git("merge", "-q", "main")
    taken = (
        ORG
        + "  - {name: Nguyễn Văn Bính, title: CV, address: nvbinh2.skhcn@khanhhoa.gov.vn, aliases: [nvbinh.skhcn@khanhhoa.gov.vn]}\n"
    )
    repo.commit("steal", {"accounts/skhcn.yaml": taken})
    code, err = _validate(repo, capsys)
    assert code == 1
    assert any(
        "people[2].aliases[0]: nvbinh.skhcn@khanhhoa.gov.vn was issued to Nguyễn Văn Bình (nvbinh@khanhhoa.gov.vn)" in e
        for e in err
    ), err


@pytest.mark.parametrize(
    ("entry", "field", "address"),
    [
        ("{name: Trần Thị Mai, title: CV, address: tinhuy@khanhhoa.gov.vn}", "address", "tinhuy@khanhhoa.gov.vn"),
        (
            "{name: Trần Thị Mai, title: CV, address: ttmai@khanhhoa.gov.vn, aliases: [vanphong.syt@khanhhoa.gov.vn, giamdoc.syt@khanhhoa.gov.vn]}",
            "aliases[0]",
            "vanphong.syt@khanhhoa.gov.vn",
        ),
        ("{name: Trần Thị Mai, title: CV, address: ttmai.syt@khanhhoa.gov.vn}", "address", "ttmai.syt@khanhhoa.gov.vn"),
    ],
)
def test_squatting_another_bodys_or_units_address_is_refused(repo, capsys, entry, field, address):
    """Attack: skhcn's clerk writes another body's address, or another unit's addresses as aliases."""
    repo.commit("squat", {"accounts/skhcn.yaml": ORG + f"  - {entry}\n"})
    code, err = _validate(repo, capsys)
    assert code == 1
    assert any(
        f"people[2].{field}: {address} is not an Article 5 address of Trần Thị Mai in skhcn" in e for e in err
    ), err


def test_the_article5_forms_of_the_writer_pass_and_the_approvers_list_allows_others(repo, capsys):
    fine = ORG + (
        "  - {name: Trần Thị Mai, title: CV, address: ttmai.skhcn@khanhhoa.gov.vn,"
        " aliases: [ttmai2.skhcn@khanhhoa.gov.vn, tinhuy@khanhhoa.gov.vn]}\n"
    )
    repo.commit("ok", {"accounts/skhcn.yaml": fine})
    code, err = _validate(repo, capsys)
    assert code == 1 and len([e for e in err if "is not an Article 5 address" in e]) == 1
    repo.commit("approved", {"accounts/province.yaml": PROVINCE + "approved_addresses: [tinhuy@khanhhoa.gov.vn]\n"})
    assert _validate(repo, capsys) == (0, [])


UNITS = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn-it]}
units:
  - {id: ppc, name: Phòng Pháp chế}
  - {id: vp, name: Văn phòng, status: revoked, reason: other sáp nhập, since: "2026-01-02"}
people:
  - {name: Nguyễn Văn Bình, title: CV, unit: ppc, address: nvbinh@khanhhoa.gov.vn}
"""
COMMUNE = "org: {id: tubong, name: Tu Bông, kind: commune, owners: [tb]}\n"


@pytest.fixture
def units(tmp_path):
    repo = Repo(tmp_path / "units")
    repo.commit(
        "start",
        {"accounts/province.yaml": PROVINCE, "accounts/skhcn.yaml": UNITS, "accounts/tubong.yaml": COMMUNE},
    )
    repo.branch("change")
    return repo


def test_renaming_a_sub_unit_loses_its_issued_mailbox_and_is_refused(units, capsys):
    """Issue 11 §1: ppc → phc drops ppc.skhcn@; validate --base must say so."""
    renamed = UNITS.replace("{id: ppc, name: Phòng Pháp chế}", "{id: phc, name: Phòng Pháp chế}").replace(
        "unit: ppc", "unit: phc"
    )
    units.commit("rename", {"accounts/skhcn.yaml": renamed})
    code, err = _validate(units, capsys)
    assert code == 1
    assert err[0] == (
        "accounts/skhcn.yaml (at main):3: id: ppc.skhcn@khanhhoa.gov.vn (unit Phòng Pháp chế) was issued and is"
        " gone: a unit's or body's mailbox is its address, so a unit is never renamed or deleted; set its status:"
        " revoked and declare the new unit beside it"
    )


def test_deleting_a_committed_unit_a_unit_file_or_a_body_is_refused(units, capsys):
    units.commit("delete a unit", {"accounts/skhcn.yaml": UNITS.replace("  - {id: ppc, name: Phòng Pháp chế}\n", "")
                                   .replace(", unit: ppc", "")})  # fmt: skip
    units.git("rm", "-q", "accounts/tubong.yaml")
    units.commit("delete a commune")
    code, err = _validate(units, capsys)
    assert code == 1
    gone = sorted(line.split(": ")[2].split(" ")[0] for line in err if "was issued and is gone" in line)
    assert gone == [
        "dutubong@khanhhoa.gov.vn",
        "hdndtubong@khanhhoa.gov.vn",
        "ppc.skhcn@khanhhoa.gov.vn",
        "ubndtubong@khanhhoa.gov.vn",
    ]


def test_a_body_dropped_from_bodies_or_a_mailbox_switched_off_is_refused(units, capsys):
    units.commit(
        "fewer bodies",
        {
            "accounts/tubong.yaml": COMMUNE.replace("owners: [tb]", "owners: [tb], bodies: [ubnd]"),
            "accounts/skhcn.yaml": UNITS.replace(
                "{id: ppc, name: Phòng Pháp chế}", "{id: ppc, name: P, mailbox: false}"
            ),
        },
    )
    code, err = _validate(units, capsys)
    assert code == 1
    assert sorted(line.split(": ")[2].split(" ")[0] for line in err if "was issued" in line) == [
        "dutubong@khanhhoa.gov.vn",
        "hdndtubong@khanhhoa.gov.vn",
        "ppc.skhcn@khanhhoa.gov.vn",
    ]


def test_a_revoked_unit_mailbox_never_comes_back_nor_goes_to_a_person(units, capsys):
    revived = UNITS.replace(', status: revoked, reason: other sáp nhập, since: "2026-01-02"', "")
    units.commit("revive", {"accounts/skhcn.yaml": revived})
    code, err = _validate(units, capsys)
    assert code == 1
    assert any(
        "vp.skhcn@khanhhoa.gov.vn was revoked at main; a revoked address is never brought back" in e for e in err
    )
    units.commit("back, and the address to a person", {"accounts/skhcn.yaml": UNITS.replace(
        "  - {id: vp, name: Văn phòng, status: revoked, reason: other sáp nhập, since: \"2026-01-02\"}\n", ""
    ).replace("address: nvbinh@khanhhoa.gov.vn", "address: nvbinh@khanhhoa.gov.vn, aliases: [vp.skhcn@khanhhoa.gov.vn]")})  # fmt: skip
    code, err = _validate(units, capsys)
    assert code == 1
    assert any(
        "vp.skhcn@khanhhoa.gov.vn (unit Văn phòng) was issued at main; an issued address is never given to anyone" in e
        for e in err
    )


def test_a_kept_unit_tree_with_new_states_passes(units, capsys):
    units.commit(
        "suspend a unit, reset a body",
        {
            "accounts/skhcn.yaml": UNITS.replace(
                "{id: ppc, name: Phòng Pháp chế}",
                '{id: ppc, name: Phòng Pháp chế, status: suspended, reason: requested, since: "2026-02-01"}',
            ),
            "accounts/tubong.yaml": COMMUNE.replace(
                "owners: [tb]", "owners: [tb], bodies: [du, {id: ubnd, reset: x}, hdnd]"
            ),
        },
    )
    assert _validate(units, capsys) == (0, [])
