"""R10.5 with real git: `govmail attest` records a unit's answer as a commit, the tally and
`govmail report --quarter` count confirmed / asked for changes / no answer."""

from __future__ import annotations

import subprocess

from govmail.cli.main import main
from govmail.model.rules import load_valid
from govmail.workflow import review
from govmail.workflow.gitlog import Git

ORG = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [it]}
people:
  - {name: Nguyễn Văn Bình, title: Trưởng phòng, address: nvbinh@khanhhoa.gov.vn}
"""


def test_attest_records_in_git_and_the_tally_counts_it(tree_dir, tmp_path, capsys) -> None:
    syt = "org: {id: syt, name: Sở Y tế, kind: province_body, owners: [it]}\npeople: [{name: Lê Văn Tám, title: CV, address: lvtam@khanhhoa.gov.vn}]\n"
    root = tree_dir({"skhcn.yaml": ORG, "syt.yaml": syt})
    repo = root.parent
    env = ["-c", "user.name=op", "-c", "user.email=op@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*env, "commit", "-q", "-m", "tree"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "config", "user.name", "op"], cwd=repo, check=True)
    subprocess.run(["git", "config", "user.email", "op@localhost"], cwd=repo, check=True)
    assert main(["attest", "nosuch", "--quarter", "2026Q4", "--dir", str(root), "--repo", str(repo)]) == 1
    assert main(["attest", "skhcn", "--quarter", "2026q4", "--dir", str(root), "--repo", str(repo)]) == 0
    assert "Recorded: skhcn confirmed for 2026Q4" in capsys.readouterr().out
    tree = load_valid(root)
    assert review.tally(tree, Git(repo), "2026Q4") == {"confirmed": ["skhcn"], "changes": [], "none": ["syt"]}
    args = ["attest", "syt", "--quarter", "2026Q4", "--answer", "changes", "--note", "thêm 1 người"]
    assert main([*args, "--dir", str(root), "--repo", str(repo)]) == 0
    assert review.tally(tree, Git(repo), "2026Q4") == {"confirmed": ["skhcn"], "changes": ["syt"], "none": []}
    assert review.tally(tree, Git(repo), "2027Q1") == {"confirmed": [], "changes": [], "none": ["skhcn", "syt"]}
    out = tmp_path / "report"
    assert main(["report", "--quarter", "2026Q4", "--today", "2026-12-31", "--repo", str(repo), "--dir", "accounts",
                 "--output", str(out)]) == 0  # fmt: skip
    text = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "- Đã xác nhận: 1 (Sở Khoa học và Công nghệ)" in text
    assert "- Đề nghị điều chỉnh: 1 (Sở Y tế)" in text
    assert "- Chưa trả lời: 0 (—)" in text
