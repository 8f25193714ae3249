"""check-scope and codeowners on a real Git repository: one unit cannot request for another."""

import pytest

from gitrepo import Repo
from govmail.cli.main import main
from govmail.workflow.gitlog import Git
from govmail.workflow.scope import check_scope
from helpers import PROVINCE

pytestmark = pytest.mark.integration

SKHCN = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn-it]}
people:
  - {name: Nguyễn Văn Bình, title: Chuyên viên, address: nvbinh@khanhhoa.gov.vn}
"""
SYT = """\
org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt-tccb, khanhhoa/syt-lead]}
people:
  - {name: Trần Thị Hoa, title: Chuyên viên, address: tthoa@khanhhoa.gov.vn}
"""


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    r.commit("accounts", {"accounts/province.yaml": PROVINCE, "accounts/skhcn.yaml": SKHCN, "accounts/syt.yaml": SYT})
    return r


def verdicts(repo, author, **kw):
    return [(v.path, v.allowed) for v in check_scope(Git(repo.path), author, "main", **kw)]


def test_a_unit_may_change_its_own_file(repo):
    repo.branch("add")
    repo.commit("add", {"accounts/skhcn.yaml": SKHCN + "  - {name: Trần Thị Mai, title: CV}\n"}, who="skhcn-it")
    assert verdicts(repo, "skhcn-it") == [("accounts/skhcn.yaml", True)]
    assert verdicts(repo, "someone", teams=("skhcn-it",)) == [("accounts/skhcn.yaml", True)]


def test_a_unit_may_not_change_another_units_file_or_the_province(repo, capsys):
    repo.branch("bad")
    repo.commit(
        "bad",
        {"accounts/syt.yaml": SYT.replace("Chuyên viên", "Trưởng phòng"), "accounts/province.yaml": PROVINCE + "# x\n"},
        who="skhcn-it",
    )
    assert verdicts(repo, "skhcn-it") == [("accounts/province.yaml", False), ("accounts/syt.yaml", False)]
    assert main(["check-scope", "--author", "skhcn-it", "--base", "main", "--repo", str(repo.path)]) == 1
    out, err = capsys.readouterr()
    assert "REFUSED accounts/syt.yaml: owned by khanhhoa/syt-lead, syt-tccb, not by skhcn-it" in out
    assert "REFUSED accounts/province.yaml: only the approvers (TTCĐS) change province.yaml" in out
    assert "2 file(s) outside the scope of skhcn-it" in err
    # the approvers may change everything
    assert main(["check-scope", "--author", "ttcds", "--base", "main", "--repo", str(repo.path)]) == 0


def test_ownership_is_read_at_the_base_so_a_change_cannot_grant_itself_rights(repo):
    repo.branch("grab")
    repo.commit(
        "grab", {"accounts/syt.yaml": SYT.replace("owners: [syt-tccb", "owners: [skhcn-it, syt-tccb")}, who="skhcn-it"
    )
    assert verdicts(repo, "skhcn-it") == [("accounts/syt.yaml", False)]


def test_new_unit_files_and_moves_between_files(repo):
    repo.branch("new")
    repo.commit(
        "new",
        {"accounts/ctys.yaml": "org: {id: ctys, name: Công ty Yến sào, kind: other_body, owners: [x]}\n"},
        who="skhcn-it",
    )
    assert verdicts(repo, "skhcn-it") == [("accounts/ctys.yaml", False)]
    assert verdicts(repo, "ttcds") == [("accounts/ctys.yaml", True)]
    repo.checkout("main")
    repo.branch("move")
    repo.commit(
        "move",
        {
            "accounts/skhcn.yaml": SKHCN.replace(
                "  - {name: Nguyễn Văn Bình, title: Chuyên viên, address: nvbinh@khanhhoa.gov.vn}\n", "  []\n"
            ).replace("people:\n  []", "people: []"),
            "accounts/syt.yaml": SYT
            + "  - {name: Nguyễn Văn Bình, title: Chuyên viên, address: nvbinh@khanhhoa.gov.vn}\n",
        },
        who="skhcn-it",
    )
    # a transfer touches both files: the sending unit alone may not add to the receiving unit's file
    assert verdicts(repo, "skhcn-it") == [("accounts/skhcn.yaml", True), ("accounts/syt.yaml", False)]


def test_codeowners_generated_and_checked(repo, capsys):
    root = str(repo.path)
    assert main(["codeowners", "--dir", f"{root}/accounts", "--repo", root, "--check"]) == 1
    assert "CODEOWNERS is out of date" in capsys.readouterr().err
    assert main(["codeowners", "--dir", f"{root}/accounts", "--repo", root, "--write"]) == 0
    lines = (repo.path / "CODEOWNERS").read_text(encoding="utf-8").splitlines()
    assert lines[-4:] == [
        "* @ttcds",
        "/accounts/province.yaml @ttcds",
        "/accounts/skhcn.yaml @skhcn-it @ttcds",
        "/accounts/syt.yaml @syt-tccb @khanhhoa/syt-lead @ttcds",
    ]
    assert main(["codeowners", "--dir", f"{root}/accounts", "--repo", root, "--check"]) == 0
