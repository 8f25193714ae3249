"""bin/ci, the forge-neutral core the GitHub and GitLab workflows call, on a real clone."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitrepo import Repo
from helpers import PROVINCE, REPO

pytestmark = pytest.mark.integration

SKHCN = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn-it]}
people:
  - {name: Nguyễn Văn Bình, title: Chuyên viên, address: nvbinh@khanhhoa.gov.vn}
"""
SYT = "org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt-tccb]}\n"

FAKE_PLAYBOOK = """\
#!/bin/sh
# stands in for ansible-playbook playbooks/accounts.yml: writes an apply report as the real module does
set -e
commit=$(git rev-parse HEAD)
path=var/reports/apply-20261128T100005Z.json
cat > "$path" <<JSON
{"format": "govmail-apply/1", "commit": "$commit", "started": "2026-11-28T10:00:00Z", "finished": "2026-11-28T10:00:05Z",
 "check_mode": false, "accounts_dir": "accounts", "summary": {"total": 1, "by_op": {"create": 1}, "by_org": {"skhcn": 1}},
 "changes": [{"op": "create", "address": "ttmai@khanhhoa.gov.vn", "kind": "person", "org": "skhcn", "unit": null,
   "name": "Trần Thị Mai", "status": "active", "changes": {}, "reason": null, "result": "ok", "error": null}],
 "archives": [], "notified": []}
JSON
echo "apply report: $path"
"""


@pytest.fixture
def clone(tmp_path):
    origin = Repo(tmp_path / "origin")
    origin.write({"accounts/province.yaml": PROVINCE, "accounts/skhcn.yaml": SKHCN, "accounts/syt.yaml": SYT})
    (origin.path / "bin").mkdir()
    shutil.copy(REPO / "bin" / "ci", origin.path / "bin" / "ci")
    env_bin = str(Path(sys.executable).parent)
    subprocess.run([f"{env_bin}/govmail", "codeowners", "--write"], cwd=origin.path, check=True, capture_output=True)
    origin.commit("setup")
    origin.git("config", "receive.denyCurrentBranch", "ignore")
    work = Repo.__new__(Repo)
    work.path = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(origin.path), str(work.path)], check=True)
    return origin, work


def run_ci(work, step, **env):
    full = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@example.invalid",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@example.invalid",
        **env,
    }
    return subprocess.run(
        [str(work.path / "bin" / "ci"), step], cwd=work.path, env=full, capture_output=True, text=True, check=False
    )


def test_pr_check_accepts_the_owner_and_refuses_another_unit(clone):
    _, work = clone
    work.git("checkout", "-q", "-b", "req")
    work.write(
        {
            "accounts/skhcn.yaml": SKHCN
            + "  - {name: Trần Thị Mai, title: Chuyên viên, address: ttmai@khanhhoa.gov.vn}\n"
        }
    )
    work.git("commit", "-qam", "Tạo mới Trần Thị Mai", who="skhcn-it")
    ok = run_ci(work, "pr-check", CI_BASE="origin/main", CI_AUTHOR="skhcn-it")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Scope: 1 file(s) changed, all within the scope of skhcn-it." in ok.stdout
    bad = run_ci(work, "pr-check", CI_BASE="origin/main", CI_AUTHOR="syt-tccb")
    assert bad.returncode == 1
    assert "REFUSED accounts/skhcn.yaml: owned by skhcn-it, not by syt-tccb" in bad.stdout


def test_pr_check_fails_on_a_missing_address(clone):
    _, work = clone
    work.write({"accounts/skhcn.yaml": SKHCN + "  - {name: Trần Thị Mai, title: Chuyên viên}\n"})
    work.git("commit", "-qam", "x", who="skhcn-it")
    res = run_ci(work, "pr-check", CI_BASE="origin/main", CI_AUTHOR="skhcn-it")
    assert res.returncode == 1
    assert "1 address(es) to allocate" in res.stdout


def test_apply_records_the_report_as_a_note_and_pushes_it(clone, tmp_path):
    origin, work = clone
    fake = tmp_path / "fake-playbook"
    fake.write_text(FAKE_PLAYBOOK, encoding="utf-8")
    fake.chmod(0o755)
    res = run_ci(work, "apply", ANSIBLE_PLAYBOOK=str(fake), CI_PUSH_NOTES="1", CI_FORGE="none")
    assert res.returncode == 0, res.stdout + res.stderr
    head = work.git("rev-parse", "HEAD")
    note = origin.git("notes", "--ref=refs/notes/govmail-apply", "show", head)
    assert json.loads(note)["changes"][0]["address"] == "ttmai@khanhhoa.gov.vn"
    # no report → a clear failure, nothing recorded
    res = run_ci(work, "apply", ANSIBLE_PLAYBOOK="true", CI_FORGE="none")
    assert res.returncode == 1
    assert "the playbook wrote no apply report" in res.stderr


def test_workflows_call_the_same_steps():
    github = (REPO / ".github/workflows/requests.yml").read_text() + (REPO / ".github/workflows/apply.yml").read_text()
    gitlab = (REPO / ".gitlab-ci.yml").read_text()
    for step in ("bin/ci pr-check", "bin/ci plan", "bin/ci apply"):
        assert step in github
        assert step in gitlab


def test_apply_passes_starttls_to_the_playbook_and_refuses_anything_but_true_or_false(clone, tmp_path):
    """Issue 10 §7: initial passwords go over STARTTLS unless the operator says otherwise, explicitly."""
    _, work = clone
    spy = tmp_path / "spy-playbook"
    argv = tmp_path / "argv"
    spy.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{argv}"\nexit 1\n', encoding="utf-8")
    spy.chmod(0o755)
    run_ci(work, "apply", ANSIBLE_PLAYBOOK=str(spy), CI_FORGE="none")
    assert '{"govmail_smtp_starttls": true}' in argv.read_text(encoding="utf-8").splitlines()
    run_ci(work, "apply", ANSIBLE_PLAYBOOK=str(spy), CI_FORGE="none", GOVMAIL_SMTP_STARTTLS="false")
    assert '{"govmail_smtp_starttls": false}' in argv.read_text(encoding="utf-8").splitlines()
    argv.unlink()
    res = run_ci(work, "apply", ANSIBLE_PLAYBOOK=str(spy), CI_FORGE="none", GOVMAIL_SMTP_STARTTLS='true}, "x": {')
    assert res.returncode == 1
    assert "GOVMAIL_SMTP_STARTTLS must be true or false" in res.stderr
    assert not argv.exists()


def test_the_accounts_module_uses_starttls_unless_told_otherwise():
    text = (REPO / "library/govmail_accounts.py").read_text(encoding="utf-8")
    assert '"starttls": {"type": "bool", "default": True}' in text  # the argument spec
    assert re.search(r"starttls: \{description: [^}]*, type: bool, default: true\}", text)  # its documentation
