"""R9.2c and R10.5 without servers: the views' ACL rules refuse what must never be shared, the export
holds only public fields, the review message and the attestation trail."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
import yaml

from govmail.cli.main import main
from govmail.directory import export, views
from govmail.model.rules import load_valid
from govmail.workflow import review

ORG = """\
org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [it]}
units: [{id: ppc, name: Phòng Pháp chế}]
people:
  - {name: Nguyễn Văn Bình, title: Trưởng phòng, unit: ppc, address: nvbinh@khanhhoa.gov.vn}
  - {name: Lê Na, title: "=cmd|' /C calc'!A0", address: lna@khanhhoa.gov.vn, status: suspended, reason: inactive, since: "2026-05-01"}
  - {name: Trần Cũ, title: CV, address: tcu@khanhhoa.gov.vn, status: revoked, reason: retired, since: "2026-01-01"}
"""
ACCOUNTS, SERVICES = "ou=accounts,dc=x", "ou=services,dc=x"
ROLE = Path(__file__).resolve().parents[2] / "roles" / "slapd"


def role_views() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))["slapd__views"]


def test_view_rules_give_each_reader_its_view_and_let_others_through() -> None:
    rules = views.view_acls(
        role_views(), [{"name": "webmail", "view": "directory"}, {"name": "vanban", "view": "membership"}], ACCOUNTS, SERVICES
    )  # fmt: skip
    assert rules[0] == (
        f'to dn.base="{ACCOUNTS}" attrs=entry,objectClass,ou by dn.exact="cn=webmail,{SERVICES}" read '
        f'by dn.exact="cn=vanban,{SERVICES}" read by * break'
    )
    membership = next(r for r in rules if "filter=(govmailKind=person)" in r)
    assert 'by dn.exact="cn=vanban,' in membership and "cn=webmail" not in membership
    assert membership.endswith("by * break")
    assert all("userPassword" not in r and "govmailState" not in r and "govmailResetToken" not in r for r in rules)
    assert views.view_acls(role_views(), [], ACCOUNTS, SERVICES) == []


@pytest.mark.parametrize("attr", ["userPassword", "govmailResetToken", "pwdHistory", "pwdReset", "pwdLastSuccess"])
def test_a_view_can_never_show_a_hash_token_or_policy_attribute(attr) -> None:
    bad = {"leaky": {"filter": "(objectClass=*)", "attrs": ["cn", attr]}}
    with pytest.raises(views.ViewError, match=f"{attr} is never readable"):
        views.view_acls(bad, [{"name": "x1", "view": "leaky"}], ACCOUNTS, SERVICES)


def test_a_state_needs_an_explicit_states_flag() -> None:
    with pytest.raises(views.ViewError, match="govmailState is a state"):
        views.check({"v": {"filter": "(objectClass=*)", "attrs": ["govmailState"]}}, [])
    views.check({"v": {"filter": "(objectClass=*)", "attrs": ["govmailState"], "states": True}}, [])


@pytest.mark.parametrize(
    ("readers", "message"),
    [
        ([{"name": "a", "view": "directory"}], "the name must match"),
        ([{"name": "mailserver", "view": "directory"}], "built-in identity"),
        ([{"name": "webmail", "view": "nope"}], "unknown view 'nope'"),
        ([{"name": 'x") by * write', "view": "directory"}], "the name must match"),
    ],
)
def test_bad_readers_are_refused_by_name(readers, message) -> None:
    with pytest.raises(views.ViewError, match=message):
        views.view_acls(role_views(), readers, ACCOUNTS, SERVICES)


def test_a_filter_that_would_escape_its_rule_is_refused() -> None:
    with pytest.raises(views.ViewError, match="one parenthesised LDAP filter"):
        views.check({"v": {"filter": "(cn=*) by * write", "attrs": ["cn"]}}, [])


def test_export_holds_only_public_fields_and_no_revoked_account(tree_dir, capsys) -> None:
    root = tree_dir({"skhcn.yaml": ORG})
    assert main(["export", str(root), "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert {tuple(sorted(e)) for e in entries} == {tuple(sorted(export.FIELDS))}
    by_address = {e["address"]: e for e in entries}
    assert "tcu@khanhhoa.gov.vn" not in by_address  # revoked
    assert "lna@khanhhoa.gov.vn" in by_address  # suspended people still receive mail: listed, state not said
    assert by_address["nvbinh@khanhhoa.gov.vn"] | {} == {
        "address": "nvbinh@khanhhoa.gov.vn",
        "kind": "person",
        "name": "Nguyễn Văn Bình",
        "title": "Trưởng phòng",
        "org": "skhcn",
        "org_name": "Sở Khoa học và Công nghệ",
        "unit": "ppc",
        "unit_name": "Phòng Pháp chế",
    }
    assert by_address["ppc.skhcn@khanhhoa.gov.vn"]["kind"] == "unit"
    text = json.dumps(entries)
    assert "suspended" not in text and "inactive" not in text


def test_csv_export_quotes_formulas(tree_dir) -> None:
    rows = list(csv.DictReader(io.StringIO(export.export(load_valid(tree_dir({"skhcn.yaml": ORG})), "csv"))))
    title = next(r["title"] for r in rows if r["address"] == "lna@khanhhoa.gov.vn")
    assert title.startswith("'=")


def test_vcard_export_is_folded_and_escaped(tree_dir) -> None:
    text = export.export(load_valid(tree_dir({"skhcn.yaml": ORG})), "vcard")
    assert text.count("BEGIN:VCARD") == text.count("END:VCARD") == 5  # support, org, unit, two people
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert "FN:Nguyễn Văn Bình\r\nN:Nguyễn;Văn Bình;;;\r\nTITLE:Trưởng phòng\r\n" in text
    assert "ORG:Sở Khoa học và Công nghệ;Phòng Pháp chế" in text.replace("\r\n ", "")


def test_review_message_lists_people_units_states_and_activity_in_vietnamese(tree_dir) -> None:
    tree = load_valid(tree_dir({"skhcn.yaml": ORG}))
    lists = review.unit_lists(tree, {"nvbinh@khanhhoa.gov.vn": dt.date(2026, 11, 2)})
    assert [u.org_id for u in lists] == ["skhcn"]
    msg = review.message(tree, lists[0], "2026Q4", dt.date(2026, 12, 1), "https://forge/issues/new?title={title}")
    body = msg.get_content()
    assert msg["To"] == "skhcn@khanhhoa.gov.vn"
    assert msg["Subject"] == "[govmail-review 2026Q4 skhcn] Rà soát danh sách tài khoản thư điện tử quý 2026Q4"
    assert "Nguyễn Văn Bình — Trưởng phòng; Phòng Pháp chế" in body
    assert "nvbinh@khanhhoa.gov.vn — đang hoạt động; đăng nhập gần nhất: 02/11/2026" in body
    assert "lna@khanhhoa.gov.vn — tạm ngừng; đăng nhập gần nhất: chưa đăng nhập" in body
    assert "tcu@" not in body
    assert "Các đơn vị trực thuộc: Phòng Pháp chế" in body
    assert "mailto:hotrothudientu@khanhhoa.gov.vn?subject=%5Bgovmail-review%202026Q4%20skhcn%5D%20X%C3%81C" in body
    assert "https://forge/issues/new?title=" in body
    assert review.answer_of("Re: [govmail-review 2026Q4 skhcn] XÁC NHẬN") == ("2026Q4", "skhcn", "confirmed")
    assert review.answer_of("[govmail-review 2026Q4 skhcn] ĐỀ NGHỊ ĐIỀU CHỈNH") == ("2026Q4", "skhcn", "changes")
    assert review.answer_of("Hello") is None
