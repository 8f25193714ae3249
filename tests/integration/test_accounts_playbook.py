"""playbooks/accounts.yml end to end through ansible-playbook: plan, archive, apply, idempotence."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from govmail.directory.layout import Layout, read_managed
from govmail.directory.ldap_client import connect
from helpers import REPO, local_inventory

pytestmark = pytest.mark.integration


def _inventory(tmp_path, ldap, age_key) -> Path:
    return local_inventory(
        tmp_path / "inventory.yml",
        ldap,
        govmail_age_recipients=[age_key[1]],
        govmail_archive_dir=str(tmp_path / "archive"),
        govmail_maildir_root=str(tmp_path / "vmail"),
        govmail_doveadm="govmail-test-no-doveadm",  # no Dovecot here: archives copy the maildir
    )


def _play(inventory: Path, tree: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        str(inventory),
        str(REPO / "playbooks/accounts.yml"),
        "-e",
        f"accounts_dir={tree}",
        *extra,
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)


def _live(ldap):
    with connect(**ldap) as directory:
        return {a["address"]: a for a in read_managed(directory, Layout(ldap["base_dn"]))}


def test_check_diff_then_apply_then_noop_then_revoke_with_archive(tree, ldap, age_key, tmp_path):
    inventory = _inventory(tmp_path, ldap, age_key)

    dry = _play(inventory, tree, "--check", "--diff")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "+++ after: nvbinh@khanhhoa.gov.vn (create)" in dry.stdout
    assert _live(ldap) == {}

    applied = _play(inventory, tree)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    report_path = re.search(r"apply report: (\S+\.json)", applied.stdout)[1]
    report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    assert report["format"] == "govmail-apply/1" and report["summary"]["by_op"] == {"create": 34}
    assert len(_live(ldap)) == 34
    assert "initial passwords sent to" in applied.stdout

    again = _play(inventory, tree)
    assert again.returncode == 0
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0", again.stdout), again.stdout

    maildir = tmp_path / "vmail/khanhhoa.gov.vn/btngoc/cur"
    maildir.mkdir(parents=True)
    (maildir / "1.msg:2,S").write_text("Subject: hello\n\nbody\n")
    ctys = tree / "enterprises/ctys.yaml"
    ctys.write_text(
        ctys.read_text(encoding="utf-8").replace(
            "    address: btngoc@khanhhoa.gov.vn\n",
            "    address: btngoc@khanhhoa.gov.vn\n    status: revoked\n    reason: transferred\n    since: 2026-11-27\n",
        ),
        encoding="utf-8",
    )
    revoked = _play(inventory, tree)
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    [archive] = list((tmp_path / "archive").rglob("*-btngoc@khanhhoa.gov.vn.tar.gz"))
    assert archive.with_name(archive.name + ".sha256").exists()
    entry = _live(ldap)["btngoc@khanhhoa.gov.vn"]
    assert entry["status"] == "revoked" and ",ou=revoked," in entry["dn"]
    report = json.loads(Path(re.search(r"apply report: (\S+\.json)", revoked.stdout)[1]).read_text(encoding="utf-8"))
    assert [a["path"] for a in report["archives"]] == [str(archive)]
    assert report["archives"][0]["verified"] is True


def test_invalid_files_apply_nothing_and_name_the_line(tree, ldap, age_key, tmp_path):
    inventory = _inventory(tmp_path, ldap, age_key)
    syt = tree / "departments/syt.yaml"
    syt.write_text(syt.read_text(encoding="utf-8").replace("kind: province_body", "kind: department"), encoding="utf-8")
    result = _play(inventory, tree)
    assert result.returncode == 2
    shown = " ".join(result.stdout.split())  # the YAML callback folds long lines
    assert f"{tree}/departments/syt.yaml:5: org.kind: ''department'' is not one of" in shown
    assert "the account files are invalid; nothing was applied" in shown
    assert _live(ldap) == {}
