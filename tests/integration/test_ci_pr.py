"""Issue 10 §1–2: a request's own code never runs in CI; the base's code checks the request's data.

A real origin repository with the real bin/ci and the real workflow files; a clerk's request that
rewrites bin/ci, the Makefile, the engine and the workflow to skip the checks (each rewrite leaves a
marker file when executed). The request jobs are then run exactly as the workflow file says: the
steps' ``run:`` scripts are read from .github/workflows/requests.yml and .gitlab-ci.yml and executed
in a checkout of the base, with the forge's ``${{ … }}`` expressions filled in.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitrepo import Repo
from helpers import PROVINCE, REPO

pytestmark = pytest.mark.integration

SKHCN = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn-it]}
people:
  - {name: Nguyễn Văn Bình, title: Chuyên viên, address: nvbinh@khanhhoa.gov.vn}
"""
SYT = """\
org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt-tccb]}
people:
  - {name: Trần Thị Hoa, title: Chuyên viên, address: tthoa@khanhhoa.gov.vn}
"""
# The base's Makefile: `make venv` gives .venv/bin with the engine installed for the tests (the
# base's code). A request's Makefile that ran would leave its marker instead.
BASE_MAKEFILE = 'venv:\n\tmkdir -p .venv && ln -sfn "$$GOVMAIL_TEST_BIN" .venv/bin\n'
PR_NUMBER = 7


def marker_script(marker: Path) -> str:
    return f"#!/bin/sh\ntouch '{marker}'\nexit 0\n"


@pytest.fixture
def origin(tmp_path):
    """The forge's repository: main with the real bin/ci, the workflows and generated CODEOWNERS."""
    repo = Repo(tmp_path / "origin")
    repo.write(
        {
            "accounts/province.yaml": PROVINCE,
            "accounts/skhcn.yaml": SKHCN,
            "accounts/syt.yaml": SYT,
            "Makefile": BASE_MAKEFILE,
            "module_utils/govmail/__init__.py": '"""the engine (stand-in)"""\n',
        }
    )
    for rel in ("bin/ci", ".github/workflows/requests.yml", ".gitlab-ci.yml"):
        (repo.path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, repo.path / rel)
    subprocess.run([gbin("govmail"), "codeowners", "--write"], cwd=repo.path, check=True, capture_output=True)
    repo.commit("setup")
    return repo


def gbin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def env(**extra) -> dict:
    return {
        **os.environ,
        "GOVMAIL_TEST_BIN": str(Path(sys.executable).parent),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        **extra,
    }


def open_request(origin: Repo, files: dict[str, str], who: str = "skhcn-it") -> str:
    """A branch pushed by the clerk, published as refs/pull/N/head as GitHub does; returns its head."""
    origin.branch("request")
    head = origin.commit("request", files, who=who)
    origin.git("update-ref", f"refs/pull/{PR_NUMBER}/head", head)
    origin.checkout("main")
    return head


def base_checkout(origin: Repo, tmp_path: Path) -> tuple[Path, str]:
    """What actions/checkout does with `ref: ${{ github.sha }}`: a clone at the base commit."""
    work = tmp_path / "runner"
    subprocess.run(["git", "clone", "-q", str(origin.path), str(work)], check=True, env=env())
    base = origin.git("rev-parse", "main")
    subprocess.run(["git", "checkout", "-q", "--detach", base], cwd=work, check=True, env=env())
    return work, base


def expand(text: str, context: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        key = match.group(1).strip()
        assert key in context, f"the workflow uses {key}, which this test does not know"
        return context[key]

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def run_github_job(job: dict, work: Path, context: dict[str, str]) -> subprocess.CompletedProcess:
    """Each `run:` step of a GitHub job, as the runner would run it (bash -e), after the checkout step."""
    out, err, rc = "", "", 0
    for step in job["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("actions/checkout@"), step
            assert step["with"]["ref"] == "${{ github.sha }}", "a request job must check out the base"
            continue
        if "gh pr comment" in step["run"]:
            continue  # posting the comment needs the forge
        script = expand(step["run"], context)
        step_env = {k: expand(str(v), context) for k, v in (step.get("env") or {}).items()}
        proc = subprocess.run(
            ["bash", "-e", "-c", script], cwd=work, env=env(**step_env), capture_output=True, text=True, check=False
        )
        out, err, rc = out + proc.stdout, err + proc.stderr, proc.returncode
        if rc:
            break
    return subprocess.CompletedProcess(job.get("name"), rc, out, err)


def github_context(base: str, head: str, author: str) -> dict[str, str]:
    return {
        "github.sha": base,
        "github.event.pull_request.number": str(PR_NUMBER),
        "github.event.pull_request.head.sha": head,
        "github.event.pull_request.user.login": author,
    }


def workflow(name: str) -> dict:
    return yaml.safe_load((REPO / ".github/workflows" / name).read_text(encoding="utf-8"))


ATTACK_PATHS = ("bin/ci", "Makefile", "module_utils/govmail/__init__.py", ".github/workflows/requests.yml")


def attack(origin: Repo, marker: Path) -> str:
    """A request that rewrites the code and the workflow to pass everything, and changes another unit."""
    skip = marker_script(marker)
    workflow_text = (REPO / ".github/workflows/requests.yml").read_text(encoding="utf-8")
    head = open_request(
        origin,
        {
            "bin/ci": skip,
            "Makefile": f"venv:\n\ttouch '{marker}'\n",
            "module_utils/govmail/__init__.py": f"open('{marker}', 'w').close()\n",
            ".github/workflows/requests.yml": re.sub(r"bin/ci pr-check", "exit 0", workflow_text),
            "accounts/syt.yaml": SYT.replace("Chuyên viên", "Giám đốc"),
            "accounts/skhcn.yaml": SKHCN + "  - {name: Trần Thị Mai, title: Chuyên viên}\n",
        },
    )
    return head


def test_a_request_that_rewrites_the_code_is_checked_by_the_base_and_refused(origin, tmp_path):
    marker = tmp_path / "request-code-ran"
    head = attack(origin, marker)
    work, base = base_checkout(origin, tmp_path)
    res = run_github_job(workflow("requests.yml")["jobs"]["check"], work, github_context(base, head, "skhcn-it"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert not marker.exists(), "the request's own code was executed"
    for path in ATTACK_PATHS:
        assert f"REFUSED {path}: " in res.stdout, path
    assert "REFUSED accounts/syt.yaml: owned by syt-tccb, not by skhcn-it" in res.stdout
    assert "1 address(es) to allocate" in res.stdout  # the request's data, read by the base's allocate
    assert "the request is refused" in res.stderr
    # the runner's checkout is still the base, byte for byte
    assert (work / "bin/ci").read_bytes() == (REPO / "bin/ci").read_bytes()
    assert (
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            check=True,
            cwd=work,
            capture_output=True,
            text=True,
        ).stdout
        == ""
    )


def test_the_plan_job_runs_the_base_on_the_request_data_without_a_secret(origin, tmp_path):
    marker = tmp_path / "request-code-ran"
    head = attack(origin, marker)
    work, base = base_checkout(origin, tmp_path)
    res = run_github_job(workflow("requests.yml")["jobs"]["plan"], work, github_context(base, head, "skhcn-it"))
    assert not marker.exists()
    # the plan is the request's: the person it adds shows
    assert res.returncode == 0, res.stdout + res.stderr
    plan = (work / "var/plan.md").read_text(encoding="utf-8")
    assert "ttmai@khanhhoa.gov.vn" in plan and "Trần Thị Mai" in plan


def test_a_clerks_own_request_passes_and_its_data_is_what_is_checked(origin, tmp_path):
    head = open_request(
        origin,
        {
            "accounts/skhcn.yaml": SKHCN
            + "  - {name: Trần Thị Mai, title: Chuyên viên, address: ttmai@khanhhoa.gov.vn}\n"
        },
    )
    work, base = base_checkout(origin, tmp_path)
    res = run_github_job(workflow("requests.yml")["jobs"]["check"], work, github_context(base, head, "skhcn-it"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Scope: 1 file(s) changed, all within the scope of skhcn-it." in res.stdout
    # the same file with a typo in a status: the base's validator reads the request's file and refuses
    origin.git("update-ref", "-d", f"refs/pull/{PR_NUMBER}/head")
    origin.git("branch", "-q", "-D", "request")
    bad = open_request(
        origin, {"accounts/skhcn.yaml": SKHCN.replace("address: nvbinh", "status: suspnded, address: nvbinh")}
    )
    res = run_github_job(workflow("requests.yml")["jobs"]["check"], work, github_context(base, bad, "skhcn-it"))
    assert res.returncode == 1
    assert "accounts/skhcn.yaml:3" in res.stdout + res.stderr


def test_a_symlink_in_the_request_is_refused_before_anything_reads_it(origin, tmp_path):
    origin.branch("request")
    (origin.path / "accounts/syt2.yaml").symlink_to("/etc/passwd")
    head = origin.commit("link", who="skhcn-it")
    origin.git("update-ref", f"refs/pull/{PR_NUMBER}/head", head)
    origin.checkout("main")
    work, base = base_checkout(origin, tmp_path)
    res = run_github_job(workflow("requests.yml")["jobs"]["check"], work, github_context(base, head, "skhcn-it"))
    assert res.returncode == 1
    assert "not a plain file, refused: accounts/syt2.yaml" in res.stderr


def test_the_gitlab_request_job_runs_the_target_branchs_code(origin, tmp_path):
    """.gitlab-ci.yml's request-check, as a runner would: the MR's head checked out first, then the script."""
    marker = tmp_path / "request-code-ran"
    head = attack(origin, marker)
    work = tmp_path / "gitlab-runner"
    subprocess.run(["git", "clone", "-q", str(origin.path), str(work)], check=True, env=env())
    subprocess.run(["git", "fetch", "-q", "origin", head], cwd=work, check=True, env=env())
    subprocess.run(["git", "checkout", "-q", "--force", "--detach", head], cwd=work, check=True, env=env())
    ci = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    job = {**ci[".request"], **ci["request-check"]}
    lines = [line for line in job["before_script"] if not line.startswith("apt-get")] + job["script"]
    gitlab_env = env(CI_COMMIT_SHA=head, CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main", CI_MERGE_REQUEST_AUTHOR="skhcn-it")
    proc = subprocess.run(
        ["bash", "-e", "-c", "\n".join(lines)], cwd=work, env=gitlab_env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert not marker.exists()
    for path in ATTACK_PATHS:
        assert f"REFUSED {path}: " in proc.stdout, path


def test_request_jobs_hold_no_secret_and_no_production_runner():
    requests = workflow("requests.yml")
    assert list(requests["on"]) == ["pull_request_target"]  # the workflow file is the base branch's
    for name, job in requests["jobs"].items():
        labels = job["runs-on"] if isinstance(job["runs-on"], list) else [job["runs-on"]]
        assert "govmail" not in labels, name  # the production runner's label
        assert job.get("environment") != "production", name
        text = yaml.safe_dump(job)
        if name != "live-plan":
            assert "secrets." not in text, name
        else:
            assert job["environment"] == "plan-readonly" and "govmail-plan" in labels
            assert "GOVMAIL_LDAP_URI: ${{ secrets.GOVMAIL_READONLY_LDAP_URI }}" in (
                REPO / ".github/workflows/requests.yml"
            ).read_text(encoding="utf-8")
        for step in job["steps"]:
            assert "git checkout" not in step.get("run", ""), (name, step)
            if "uses" in step:
                assert step["with"]["ref"] == "${{ github.sha }}"
    apply = workflow("apply.yml")
    assert apply["on"]["push"]["branches"] == ["main"]
    assert apply["jobs"]["apply"]["if"] == "github.ref == 'refs/heads/main'"
    ci = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    for name in ("request-check", "request-plan"):
        job = {**ci[".request"], **ci[name]}
        assert "tags" not in job and "environment" not in job
        assert any("git checkout" in line and "$CI_BASE" in line for line in job["before_script"])
    assert ci["apply"]["rules"][0]["if"] == '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"'


def test_the_age_copy_of_initial_passwords_is_never_uploaded():
    """Issue 10 §7: the artifacts are the apply reports alone (the age file lies beside them)."""
    upload = next(s for s in workflow("apply.yml")["jobs"]["apply"]["steps"] if "upload-artifact" in s.get("uses", ""))
    ci = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    for pattern in (upload["with"]["path"], *ci["apply"]["artifacts"]["paths"]):
        assert pattern == "var/reports/apply-*.json"
        assert not Path("var/reports/initial-passwords-20261128T100005Z.txt.age").match(pattern)
