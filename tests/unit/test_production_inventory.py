"""inventory/production.example/ sets every variable a real deployment needs (issue 11 §6): all the lab
inventory sets (less what only the lab container needs) and every govmail_* variable the playbooks read."""

from __future__ import annotations

import re

import yaml

from helpers import REPO

LAB_ONLY = {"govmail_lab_dir", "govmail_lab_port_offset", "ansible_connection", "ansible_python_interpreter",
            "ansible_pipelining", "ansible_host"}  # fmt: skip
# Set by the playbooks themselves, by bin/ci or on the command line, not by an inventory.
RUNTIME = {"govmail_accounts", "govmail_apply", "govmail_archives", "govmail_bind_pw_file", "govmail_cli",
           "govmail_commit", "govmail_lifecycle", "govmail_lock", "govmail_mailbox", "govmail_plan",
           "govmail_reminders", "govmail_revoking_here", "govmail_smtp_starttls", "govmail_mailhost", "govmail_move", "govmail_move_from",
           "govmail_move_needed", "govmail_move_old", "govmail_move_new", "govmail_move_final", "govmail_move_verified"}  # fmt: skip


def _variables(folder) -> set[str]:
    names = set()
    for path in sorted((REPO / "inventory" / folder).rglob("*.yml")):
        if path.name == "hosts.yml":
            continue
        names |= set(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return names


def test_production_example_sets_what_the_lab_sets():
    missing = _variables("lab") - LAB_ONLY - _variables("production.example")
    assert missing == set()


def test_production_example_sets_every_variable_the_playbooks_read():
    read = set()
    for path in (REPO / "playbooks").glob("*.yml"):
        read |= set(re.findall(r"\b(govmail_[a-z_]*[a-z])\b", path.read_text(encoding="utf-8")))
    assert read - RUNTIME - _variables("production.example") == set()


def test_every_production_variable_is_documented_and_secrets_come_from_the_vault():
    for path in sorted((REPO / "inventory" / "production.example").rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("#"), f"{path}: starts with a comment saying what it holds"
        for line in text.splitlines():
            if re.match(r"^[a-z_]*(password|_pw):", line):
                assert "{{" in line, f"{path}: {line}: a secret comes from the vault or another variable"
    assert "inventory/production.example" in (REPO / "docs" / "lifecycle.md").read_text(encoding="utf-8")
