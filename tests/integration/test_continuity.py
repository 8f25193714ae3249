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
    assert err[0] == (
        "accounts/skhcn.yaml (at main):3: address: nvbinh@khanhhoa.gov.vn (Nguyễn Văn Bình) was issued and is gone:"
        " entries are never deleted and addresses never change (set status: revoked; keep an old address under aliases)"
    )


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
