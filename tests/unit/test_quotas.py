"""Mailbox quotas in the engine (issue 12): a default per kind in province.yaml, overridden in the account file,
written to the directory as govmailQuota (Dovecot reads it), changed by an ordinary plan update."""

from __future__ import annotations

from govmail.directory.layout import account_from_entry, entry_attributes
from govmail.directory.plan import plan
from govmail.model.addresses import accounts
from govmail.model.rules import load_valid
from helpers import PROVINCE, write_tree

ORG = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [it]}
people:
  - {name: Lê Văn An, title: CV, address: lvan@khanhhoa.gov.vn}
  - {name: Trần Thị Bình, title: GĐ, address: ttbinh@khanhhoa.gov.vn, quota: 10G}
"""


def _accounts(tmp_path, province):
    root = write_tree(tmp_path / "accounts", {"skhcn.yaml": ORG}, province=province)
    return {a.address: a for a in accounts(load_valid(str(root)))}


def test_the_kind_default_applies_unless_the_account_file_sets_one(tmp_path):
    got = _accounts(tmp_path, PROVINCE + "quotas: {person: 2G, org: 5G, system: 20G}\n")
    assert got["lvan@khanhhoa.gov.vn"].quota == "2G"
    assert got["ttbinh@khanhhoa.gov.vn"].quota == "10G"
    assert got["skhcn@khanhhoa.gov.vn"].quota == "5G"
    assert got["hotrothudientu@khanhhoa.gov.vn"].quota == "20G"
    assert entry_attributes(got["ttbinh@khanhhoa.gov.vn"])["govmailQuota"] == ["10G"]


def test_without_defaults_no_quota_is_written_and_the_server_default_holds(tmp_path):
    got = _accounts(tmp_path, PROVINCE)
    assert got["lvan@khanhhoa.gov.vn"].quota is None
    assert entry_attributes(got["lvan@khanhhoa.gov.vn"])["govmailQuota"] == []


def test_a_changed_quota_is_an_update_of_the_entry(tmp_path):
    got = _accounts(tmp_path, PROVINCE)
    want = got["ttbinh@khanhhoa.gov.vn"]
    entry = {k: v for k, v in entry_attributes(want).items() if v} | {"mail": [want.address]}
    current = account_from_entry("uid=ttbinh,ou=accounts,dc=khanhhoa,dc=gov,dc=vn", entry | {"govmailQuota": ["2G"]})
    changes = [c for c in plan([want], [current]) if c.address == want.address]
    assert [(c.op, c.changes.get("quota")) for c in changes] == [("update", ["2G", "10G"])]


def test_a_malformed_quota_is_refused_with_file_line_and_field(tmp_path, capsys):
    from govmail.cli.main import main

    root = write_tree(tmp_path / "accounts", {"skhcn.yaml": ORG.replace("quota: 10G", "quota: lots")})
    assert main(["validate", str(root)]) == 1
    assert "skhcn.yaml:4: people[1].quota:" in capsys.readouterr().err
