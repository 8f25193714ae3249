"""The clocks of Article 8 against a real slapd and a real Git repository, with a moved clock:
6 months without activity → suspension proposed (R8.2a), 1 month suspended → revocation proposed
(R8.1), warnings 14 days ahead, and nothing proposed twice."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from lifecycle_helpers import backdate, login, sample_repo
from smtp_sink import SmtpSink

from govmail.directory.run import Delivery, converge
from govmail.lifecycle.clocks import months_later
from govmail.model.rules import load_valid
from govmail.workflow import requests

pytestmark = pytest.mark.integration
GOVMAIL = str(Path(sys.executable).with_name("govmail"))
PEOPLE = [
    "nvhung@khanhhoa.gov.vn",
    "hdanh@khanhhoa.gov.vn",
    "ttlan@khanhhoa.gov.vn",
    "lmtam@khanhhoa.gov.vn",
    "nvhung.tubong@khanhhoa.gov.vn",
    "nvbinh@khanhhoa.gov.vn",
    "nvhung.skhcn@khanhhoa.gov.vn",
    "pqhuy@khanhhoa.gov.vn",
    "nhhen@khanhhoa.gov.vn",
    "dtha@khanhhoa.gov.vn",
    "vtson@khanhhoa.gov.vn",
    "btngoc@khanhhoa.gov.vn",
    "hdanh.phanrang@khanhhoa.gov.vn",
    "hdanh2.phanrang@khanhhoa.gov.vn",
]


def scan(repo, ldap, today, *extra):
    pw = repo.path / ".pw"
    pw.write_text(ldap["bind_pw"])
    args = [GOVMAIL, "lifecycle", "scan", str(repo.path / "accounts"), "--ldap", ldap["server_uri"]]
    args += ["--bind-dn", ldap["bind_dn"], "--bind-pw-file", str(pw), "--today", today.isoformat(), "--json", *extra]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    pw.unlink()
    return result


@pytest.fixture
def world(tmp_path, slapd, ldap, age_key):
    """The sample tree in Git, converged; btngoc suspended 40 days ago; everyone else idle for 200
    days except nvbinh (logged in today) and dtha (idle for 6 months less 10 days)."""
    today = dt.datetime.now(dt.UTC).date()
    repo = sample_repo(tmp_path / "repo")
    accounts = repo.path / "accounts"
    requests.request_status(
        accounts,
        kind="suspend",
        who={"address": "btngoc@khanhhoa.gov.vn"},
        reason="requested",
        date=today - dt.timedelta(days=40),
    )
    repo.commit("suspend btngoc (requested)")
    converge(str(accounts), ldap, delivery=Delivery(age_recipients=[age_key[1]], age_dir=str(tmp_path)))
    for address in PEOPLE:
        backdate(slapd, address, today - dt.timedelta(days=200))
    backdate(slapd, "dtha@khanhhoa.gov.vn", months_later(today, -6) + dt.timedelta(days=10))
    login(slapd, "nvbinh@khanhhoa.gov.vn")
    return repo, today


def test_clocks_propose_a_branch_once_and_warn_ahead(world, ldap, tmp_path):
    repo, today = world
    head = repo.git("rev-parse", "HEAD")
    ledger = tmp_path / "ledger.json"
    with SmtpSink() as sink:
        result = scan(repo, ldap, today, "--smtp", f"127.0.0.1:{sink.port}", "--ledger", str(ledger))
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        idle = sorted(set(PEOPLE) - {"nvbinh@khanhhoa.gov.vn", "dtha@khanhhoa.gov.vn", "btngoc@khanhhoa.gov.vn"})
        assert sorted(summary["suspend"]) == idle
        assert summary["revoke"] == ["btngoc@khanhhoa.gov.vn"]
        assert summary["warn"] == ["dtha@khanhhoa.gov.vn"]
        branch = summary["branch"]
        assert branch == f"lifecycle/{today.isoformat()}"

        # The person and the unit's mailbox are warned, through a real SMTP server.
        sink.wait(2)
        assert sorted(m["To"] for m in sink.messages) == ["dtha@khanhhoa.gov.vn", "syt@khanhhoa.gov.vn"]
        due = (months_later(today, -6) + dt.timedelta(days=10) + dt.timedelta(days=0)).isoformat()
        assert "dtha@khanhhoa.gov.vn" in sink.to("syt@khanhhoa.gov.vn")[0].get_content()
        assert "tạm ngưng" in sink.to("dtha@khanhhoa.gov.vn")[0].get_content()
        assert due in sink.to("dtha@khanhhoa.gov.vn")[0].get_content()

        # Re-running the same day: nothing new, no new branch, no second notice.
        again = scan(repo, ldap, today, "--smtp", f"127.0.0.1:{sink.port}", "--ledger", str(ledger))
        assert again.returncode == 0, again.stderr
        second = json.loads(again.stdout.strip().splitlines()[-1])
        assert second["branch"] is None and second["suspend"] == [] and second["revoke"] == []
        assert sorted(second["already"]) == sorted([*idle, "btngoc@khanhhoa.gov.vn"])
        assert "Nothing new to propose" in again.stdout
        assert len(sink.messages) == 2

    # The working tree and the current branch are untouched; the branch has one commit per unit file.
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.git("status", "--porcelain") == ""
    assert repo.git("for-each-ref", "--format=%(refname:short)", "refs/heads/lifecycle/") == branch
    subjects = repo.git("log", "--format=%s", f"main..{branch}").splitlines()
    orgs = ["ctys", "ninhphuoc", "phanrang", "skhcn", "suoihiep", "syt", "tubong"]
    assert sorted(s.split(": ")[1] for s in subjects) == orgs
    assert len(subjects) == len(orgs)

    # What the branch proposes is exactly what the plan would apply: suspensions and one revocation.
    repo.checkout(branch)
    tree = load_valid(repo.path / "accounts")
    people = {p.address: p for o in tree.orgs for p in o.people}
    assert people["lmtam@khanhhoa.gov.vn"].status == "suspended"
    assert people["lmtam@khanhhoa.gov.vn"].reason.startswith("inactive R8.2a")
    assert people["lmtam@khanhhoa.gov.vn"].since == today.isoformat()
    assert people["btngoc@khanhhoa.gov.vn"].status == "revoked"
    assert people["nvbinh@khanhhoa.gov.vn"].status == "active"
    report = converge(str(repo.path / "accounts"), ldap, check_mode=True)
    ops = sorted((c["op"], c["address"]) for c in report["changes"])
    assert ops == sorted([("suspend", a) for a in idle] + [("revoke", "btngoc@khanhhoa.gov.vn")])

    # Once merged and applied, a later day proposes nothing for them again.
    repo.checkout("main")
    repo.merge(branch)
    converge(str(repo.path / "accounts"), ldap, check_mode=False, archives=[])
    later = scan(repo, ldap, today + dt.timedelta(days=1))
    assert later.returncode == 0, later.stderr
    assert json.loads(later.stdout.strip().splitlines()[-1])["suspend"] == []


def test_a_login_stops_the_clock_and_bad_input_writes_nothing(world, ldap, slapd):
    repo, today = world
    login(slapd, "lmtam@khanhhoa.gov.vn")
    result = scan(repo, ldap, today, "--dry-run")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert "lmtam@khanhhoa.gov.vn" not in summary["suspend"]
    assert "hdanh@khanhhoa.gov.vn" in summary["suspend"]
    assert summary["branch"] is None
    assert repo.git("for-each-ref", "refs/heads/lifecycle/") == ""

    bad = subprocess.run(
        [GOVMAIL, "lifecycle", "scan", str(repo.path / "accounts"), "--today", "2026-13-01"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "is not a date" in bad.stderr
    wrong_base = scan(repo, ldap, today, "--base", "no-such-branch")
    assert wrong_base.returncode == 1 and "nothing was written" in wrong_base.stderr
    skhcn = repo.path / "accounts/departments/skhcn.yaml"
    skhcn.write_text(skhcn.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    dirty = scan(repo, ldap, today)
    assert dirty.returncode == 1 and "differ from HEAD" in dirty.stderr and "nothing was written" in dirty.stderr
    assert repo.git("for-each-ref", "refs/heads/lifecycle/") == ""


def test_the_daily_playbook_proposes_and_warns(world, ldap, tmp_path):
    import os

    import yaml

    from helpers import REPO, spy_cli

    repo, today = world
    spy, seen = spy_cli(tmp_path, GOVMAIL)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    with SmtpSink() as sink:
        inventory = {
            "all": {
                "hosts": {"localhost": local},
                "vars": {
                    "govmail_ldap_uri": ldap["server_uri"],
                    "govmail_ldap_bind_dn": ldap["bind_dn"],
                    "govmail_ldap_bind_pw": ldap["bind_pw"],
                    "govmail_ldap_suffix": ldap["base_dn"],
                    "govmail_smtp": {"host": "127.0.0.1", "port": sink.port},
                },
            }
        }
        path = tmp_path / "inventory.yml"
        path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        cmd = [
            str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(path),
            str(REPO / "playbooks/lifecycle.yml"), "-e", f"accounts_dir={repo.path / 'accounts'}",
            "-e", f"govmail_cli={spy}", "-e", f"lifecycle_dir={tmp_path / 'lifecycle'}",
            "-e", f"today={today.isoformat()}", "-vvv",
        ]  # fmt: skip
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
        sink.wait(2)
        assert sorted(m["To"] for m in sink.messages) == ["dtha@khanhhoa.gov.vn", "syt@khanhhoa.gov.vn"]
    assert f"Branch lifecycle/{today.isoformat()}" in run.stdout
    assert (tmp_path / "lifecycle/pull-request.md").read_text().startswith(f"# Lifecycle proposals of {today}")
    assert repo.git("for-each-ref", "--format=%(refname:short)", "refs/heads/lifecycle/") == f"lifecycle/{today}"
    assert "No password expires within the window." in run.stdout
    # The provisioner password is in no argv or environment of the commands (ps), nor in -vvv output.
    assert "--bind-pw-file" in seen.read_text() and ldap["bind_pw"] not in seen.read_text()
    assert ldap["bind_pw"] not in run.stdout + run.stderr


def test_an_odd_entry_is_skipped_with_its_line_and_everyone_else_is_processed(world, ldap):
    """Issue 11 §5: a reason written as a YAML block scalar cannot be edited by the minimal-edit code."""
    repo, today = world
    path = repo.path / "accounts" / "enterprises" / "ctys.yaml"
    text = path.read_text(encoding="utf-8")
    assert "    reason: requested\n" in text
    path.write_text(text.replace("    reason: requested\n", "    reason: |\n      requested\n      theo công văn\n"))
    repo.commit("a reason in several lines")
    result = scan(repo, ldap, today)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    idle = sorted(set(PEOPLE) - {"nvbinh@khanhhoa.gov.vn", "dtha@khanhhoa.gov.vn", "btngoc@khanhhoa.gov.vn"})
    assert sorted(summary["suspend"]) == idle and summary["revoke"] == []
    [skipped] = summary["skipped"]
    line = text.splitlines().index("  - name: Bùi Thị Ngọc") + 1
    assert skipped["address"] == "btngoc@khanhhoa.gov.vn"
    assert skipped["where"] == f"{path}:{line}"
    assert f"{path}:{line}: btngoc@khanhhoa.gov.vn: revoke skipped: reason is a block text here" in result.stderr
    assert "## Skipped: the entry cannot be edited automatically" in result.stdout
    assert summary["branch"] == f"lifecycle/{today.isoformat()}"


def test_warnings_are_sent_once_over_several_days_and_a_dropped_proposal_stays_dropped(world, ldap, tmp_path):
    """Issue 11 §5: the unit warning's ledger key carries the due date (no daily repeat); an account the
    reviewer dropped from the branch is not proposed again until something changed."""
    repo, today = world
    ledger = tmp_path / "ledger.json"
    with SmtpSink() as sink:
        for day in (today, today + dt.timedelta(days=1)):
            result = scan(repo, ldap, day, "--smtp", f"127.0.0.1:{sink.port}", "--ledger", str(ledger), "--dry-run")
            assert result.returncode == 0, result.stderr
        sink.wait(2)
        assert sorted(m["To"] for m in sink.messages) == ["dtha@khanhhoa.gov.vn", "syt@khanhhoa.gov.vn"]
    due = months_later(months_later(today, -6) + dt.timedelta(days=10), 6)
    assert sorted(json.loads(ledger.read_text())) == [
        f"{due}:suspend-warning:dtha@khanhhoa.gov.vn",
        f"{due}:unit-warning:syt@khanhhoa.gov.vn",
    ]

    # The reviewer keeps lmtam open: a commit on the branch puts the entry back, the rest is merged.
    first = json.loads(scan(repo, ldap, today).stdout.strip().splitlines()[-1])
    branch = first["branch"]
    repo.checkout(branch)
    suoihiep = repo.path / "accounts" / "communes" / "suoihiep.yaml"
    repo.git("checkout", "main", "--", "accounts/communes/suoihiep.yaml")
    assert "status: suspended" not in suoihiep.read_text(encoding="utf-8")
    repo.commit("keep lmtam open: on leave")
    repo.checkout("main")
    repo.merge(branch)
    later = json.loads(scan(repo, ldap, today + dt.timedelta(days=1), "--dry-run").stdout.strip().splitlines()[-1])
    assert "lmtam@khanhhoa.gov.vn" not in later["suspend"]
    assert "lmtam@khanhhoa.gov.vn" in later["dropped"]
