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
    assert "out of date with the owners" in capsys.readouterr().err
    assert main(["codeowners", "--dir", f"{root}/accounts", "--repo", root, "--write"]) == 0
    github = (repo.path / ".github/CODEOWNERS").read_text(encoding="utf-8").splitlines()
    assert github[-4:] == [
        "* @ttcds",
        "/accounts/province.yaml @ttcds",
        "/accounts/skhcn.yaml @skhcn-it @ttcds",
        "/accounts/syt.yaml @syt-tccb @khanhhoa/syt-lead @ttcds",
    ]
    # GitLab: two required sections; the approvers' section covers every path, so a unit's own
    # approval never suffices (issue 10 §3)
    gitlab = (repo.path / "CODEOWNERS").read_text(encoding="utf-8")
    sections = gitlab.split("\n\n")
    unit = next(s for s in sections if s.startswith("[Unit]"))
    approvers = next(s for s in sections if s.startswith("[Approvers]"))
    assert unit.splitlines() == [
        "[Unit]",
        "/accounts/skhcn.yaml @skhcn-it @ttcds",
        "/accounts/syt.yaml @syt-tccb @khanhhoa/syt-lead @ttcds",
    ]
    assert approvers.splitlines()[:2] == ["[Approvers] @ttcds", "*"]
    assert "^[" not in gitlab  # no optional section
    assert main(["codeowners", "--dir", f"{root}/accounts", "--repo", root, "--check"]) == 0
    # a hand edit of either file is caught
    (repo.path / "CODEOWNERS").write_text(gitlab.replace("[Approvers] @ttcds", "[Approvers] @skhcn-it"), "utf-8")
    assert main(["codeowners", "--dir", f"{root}/accounts", "--repo", root, "--check"]) == 1


OTHER_PATHS = [
    "CODEOWNERS",
    ".github/CODEOWNERS",
    ".github/workflows/requests.yml",
    ".gitlab-ci.yml",
    "bin/ci",
    "Makefile",
    "pyproject.toml",
    "module_utils/govmail/model/rules.py",
    "library/govmail_accounts.py",
    "filter_plugins/govmail.py",
    "roles/slapd/tasks/main.yml",
    "playbooks/accounts.yml",
    "inventory/lab/group_vars/all.yml",
    "data/khanhhoa-communes-2025.yaml",
    ".govmail/record-signers",
    "docs/audit.md",
    "accounts/README.md",
    "accounts/province.yaml",
]


@pytest.mark.parametrize("path", OTHER_PATHS)
def test_every_path_outside_a_units_own_file_needs_an_approver(repo, path):
    """Issue 10 §2: a clerk may change only their own unit's files; everything else has the approvers as owner."""
    if path != "accounts/province.yaml":
        repo.commit("base", {path: "# the base version\n"})
    repo.branch("req")
    repo.commit(
        "change", {path: "# changed by a clerk\n", "accounts/skhcn.yaml": SKHCN + "# own file\n"}, who="skhcn-it"
    )
    got = dict(verdicts(repo, "skhcn-it"))
    assert got == {path: False, "accounts/skhcn.yaml": True}
    assert dict(verdicts(repo, "ttcds")) == {path: True, "accounts/skhcn.yaml": True}


def test_deleting_or_renaming_an_own_file_or_adding_a_new_path_is_refused(repo):
    repo.branch("req")
    repo.git("mv", "accounts/skhcn.yaml", "accounts/skhcn2.yaml", who="skhcn-it")
    repo.commit("rename", {"tools/x.sh": "exit 0\n"}, who="skhcn-it")
    got = dict(verdicts(repo, "skhcn-it"))
    assert got["accounts/skhcn2.yaml"] is False  # the new name is nobody's file at the base
    assert got["tools/x.sh"] is False
    assert all(v is False for p, v in got.items() if p != "accounts/skhcn.yaml")
