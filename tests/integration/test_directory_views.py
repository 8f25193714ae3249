"""R9.2c against a real slapd with the role's ACLs and views: each read-only identity sees exactly its
view, and none reads a hash, a reset token or a state. Checked twice: by searching as the identity
(what a consuming system gets) and by slapacl over the role's rules (the ACL matrix)."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import ldap3
import pytest
import yaml
from slapd_server import ROLE, ThrowawaySlapd

READERS = {"webmail": "directory", "vanban": "membership", "congthongtin": "unit_mailboxes"}
VIEWS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))["slapd__views"]
SECRET_ATTRS = ["userPassword", "govmailResetToken", "pwdHistory", "pwdReset", "pwdChangedTime", "pwdLastSuccess"]
STATE_ATTRS = ["govmailState", "govmailReason", "govmailStateSince"]


def _entries(suffix: str) -> dict[str, dict]:
    accounts = f"ou=accounts,{suffix}"
    common = {"objectClass": ["inetOrgPerson", "govmailAccount"], "govmailManaged": "TRUE", "govmailOrg": "skhcn"}
    return {
        f"uid=nvbinh,{accounts}": common
        | {
            "uid": "nvbinh",
            "cn": "Nguyễn Văn Bình",
            "sn": "Nguyễn",
            "displayName": "Nguyễn Văn Bình",
            "title": "Trưởng phòng",
            "mail": "nvbinh@khanhhoa.gov.vn",
            "govmailKind": "person",
            "govmailUnit": "ppc",
            "govmailState": "active",
            "govmailResetToken": "tok-" + secrets.token_hex(4),
            "userPassword": "Init-" + secrets.token_hex(8) + "!A1",
            "pwdReset": "TRUE",
        },
        f"uid=lna,{accounts}": common
        | {
            "uid": "lna",
            "cn": "Lê Na",
            "sn": "Lê",
            "title": "Chuyên viên",
            "mail": "lna@khanhhoa.gov.vn",
            "govmailKind": "person",
            "govmailState": "suspended",
            "govmailReason": "inactive",
            "userPassword": "Init-" + secrets.token_hex(8) + "!A1",
        },
        f"uid=ppc.skhcn,{accounts}": common
        | {
            "uid": "ppc.skhcn",
            "cn": "Phòng Pháp chế",
            "sn": "Phòng Pháp chế",
            "mail": "ppc.skhcn@khanhhoa.gov.vn",
            "govmailKind": "unit",
            "govmailUnit": "ppc",
            "govmailState": "active",
        },
        f"uid=skhcn,{accounts}": common
        | {
            "uid": "skhcn",
            "cn": "Sở Khoa học và Công nghệ",
            "sn": "Sở Khoa học và Công nghệ",
            "mail": "skhcn@khanhhoa.gov.vn",
            "govmailKind": "org",
            "govmailState": "active",
        },
    }


@pytest.fixture(scope="module")
def directory():
    with ThrowawaySlapd(readers=READERS) as server:
        entries = _entries(server.suffix)
        with ldap3.Connection(server.uri, *server.provisioner, auto_bind=True) as conn:
            for dn, attrs in entries.items():
                assert conn.add(dn, attributes=attrs), conn.result
        yield server, entries


def _search(server, who: tuple[str, str], filt: str = "(objectClass=*)") -> dict[str, set[str]]:
    """dn → the attribute names the identity gets back (all user and operational attributes asked)."""
    with ldap3.Connection(server.uri, *who, auto_bind=True) as conn:
        conn.search(f"ou=accounts,{server.suffix}", filt, search_scope=ldap3.LEVEL, attributes=["*", "+"])
        return {e.entry_dn: {a for a, v in e.entry_attributes_as_dict.items() if v} for e in conn.entries}


def _in_view(view: str, attrs: dict) -> bool:
    kind = attrs["govmailKind"]
    return {
        "directory": True,
        "membership": kind == "person",
        "unit_mailboxes": kind in ("unit", "org", "body"),
    }[view]


OPERATIONAL_ALWAYS = {"entryDN", "subschemaSubentry", "hasSubordinates", "structuralObjectClass", "entryUUID",
                      "creatorsName", "createTimestamp", "modifiersName", "modifyTimestamp", "entryCSN"}  # fmt: skip


@pytest.mark.parametrize("reader", sorted(READERS))
def test_each_identity_sees_exactly_its_view(directory, reader) -> None:
    server, entries = directory
    view = READERS[reader]
    got = _search(server, server.readers[reader])
    expected_dns = {dn for dn, attrs in entries.items() if _in_view(view, attrs)}
    assert set(got) == expected_dns
    allowed = set(VIEWS[view]["attrs"])
    for dn, names in got.items():
        user_attrs = names - OPERATIONAL_ALWAYS
        assert user_attrs <= allowed, f"{reader} reads {user_attrs - allowed} of {dn}"
        # every attribute of the view that the entry has is there
        assert user_attrs == {a for a in allowed if entries[dn].get(a)}, dn


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("filt", ["(govmailState=suspended)", "(govmailState=active)", "(userPassword=*)",
                                  "(govmailResetToken=*)", "(pwdReset=TRUE)", "(govmailReason=inactive)"])  # fmt: skip
def test_no_identity_can_even_filter_on_a_secret_or_a_state(directory, reader, filt) -> None:
    server, _ = directory
    assert _search(server, server.readers[reader], filt) == {}


def test_the_mail_servers_identity_still_reads_states(directory) -> None:
    server, entries = directory
    got = _search(server, server.mailserver, "(govmailState=suspended)")
    assert list(got) == [dn for dn, a in entries.items() if a.get("govmailState") == "suspended"]


def _slapacl(server: ThrowawaySlapd, who: str, dn: str, attr: str, level: str = "read") -> bool:
    out = subprocess.run(
        ["slapacl", "-F", str(Path(server.dir) / "slapd.d"), "-D", who, "-b", dn, f"{attr}/{level}"],
        capture_output=True,
        text=True,
        check=False,
    )
    text = out.stdout + out.stderr
    assert f"{level} access to {attr}:" in text, text
    return f"{level} access to {attr}: ALLOWED" in text


def test_acl_matrix_of_the_readers_with_slapacl(directory) -> None:
    """Every reader × every entry × every attribute: ALLOWED exactly when the view shows it."""
    server, entries = directory
    attributes = sorted({a for attrs in entries.values() for a in attrs} | {"entry"})
    wrong = []
    for reader, view in READERS.items():
        who = server.readers[reader][0]
        for dn, attrs in entries.items():
            for attr in attributes:
                expect = _in_view(view, attrs) and (attr == "entry" or attr in VIEWS[view]["attrs"])
                if _slapacl(server, who, dn, attr) != expect:
                    wrong.append(f"{reader} {'can' if not expect else 'cannot'} read {attr} of {dn}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("attr", SECRET_ATTRS + STATE_ATTRS)
def test_matrix_no_reader_reads_secrets_or_states_even_at_search_level(directory, attr) -> None:
    server, entries = directory
    for reader in READERS:
        for dn in entries:
            assert not _slapacl(server, server.readers[reader][0], dn, attr, "search"), (reader, dn, attr)
