"""The directory read by RFC 4533 refreshOnly with the last run's cookie (directory/mirror.py), on a real
slapd with syncprov: changes made by hand between runs are seen; an unknown cookie, a copy from
another directory and a server without syncprov fall back to a full read."""

from __future__ import annotations

import json

import pytest
from ldap3 import MODIFY_REPLACE
from ldap3_client import connect
from slapd_server import ThrowawaySlapd

from govmail.directory import mirror
from govmail.directory.layout import Layout
from govmail.directory.ldap_client import Directory
from govmail.directory.run import Delivery, converge, mirror_file

pytestmark = pytest.mark.integration


def _delivery(age_key, tmp_path):
    return Delivery(age_recipients=[age_key[1]], age_dir=str(tmp_path / "out"))


def _how(ldap, tree) -> tuple[str, list[dict], dict]:
    directory = Directory.open(ldap)
    try:
        current, unmanaged, how = mirror.read(directory, Layout(ldap["base_dn"]), mirror_file(ldap, str(tree)))
    finally:
        directory.close()
    return how, current, unmanaged


def _add_twenty_accounts(directory: Directory, layout: Layout) -> None:
    requests = [
        (i, ("add", layout.dn(f"u{i}@khanhhoa.gov.vn"), {
            "objectClass": ["inetOrgPerson", "govmailAccount"], "cn": [f"U {i}"], "sn": ["U"],
            "mail": [f"u{i}@khanhhoa.gov.vn"], "govmailManaged": ["TRUE"], "govmailState": ["active"],
        }))
        for i in range(20)
    ]  # fmt: skip
    assert all(error is None for _, error in directory.run(requests))


def test_drift_made_by_hand_between_runs_is_seen(tree, ldap, slapd, age_key, tmp_path):
    assert converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))["failed"] == 0
    _how(ldap, tree)
    how, current, _ = _how(ldap, tree)  # nothing changed since the copy was saved: the cookie is used
    assert how == "sync" and len(current) == 34
    assert converge(str(tree), ldap)["changes"] == []
    gone = next(a["address"] for a in current if a["kind"] == "person" and a["address"] != "nvbinh@khanhhoa.gov.vn")

    layout = Layout(slapd.suffix)
    root = connect(server_uri=slapd.ldapi)
    # by hand: a title changed, an entry deleted, an entry added that govmail does not manage,
    # and an undeclared managed entry (drift)
    assert root.modify(layout.dn("nvbinh@khanhhoa.gov.vn"), {"title": [(MODIFY_REPLACE, ["Tạp vụ"])]}), root.result
    assert root.delete(layout.dn(gone)), root.result
    assert root.add(
        f"cn=Hand Made,{layout.accounts_dn}",
        ["inetOrgPerson"],
        {"cn": "Hand Made", "sn": "Made", "mail": "handmade@khanhhoa.gov.vn"},
    ), root.result
    assert root.add(
        layout.dn("ghost@khanhhoa.gov.vn"),
        ["inetOrgPerson", "govmailAccount"],
        {"cn": "Ghost", "sn": "Ghost", "mail": "ghost@khanhhoa.gov.vn", "govmailState": "active",
         "govmailManaged": "TRUE"},
    ), root.result  # fmt: skip

    how, current, unmanaged = _how(ldap, tree)
    assert how in ("sync", "sync-full")  # -full only if the proof of completeness failed (a write in flight)
    by_address = {a["address"]: a for a in current}
    assert by_address["nvbinh@khanhhoa.gov.vn"]["title"] == "Tạp vụ"
    assert gone not in by_address
    assert "ghost@khanhhoa.gov.vn" in by_address
    assert unmanaged == {"handmade@khanhhoa.gov.vn": f"cn=Hand Made,{layout.accounts_dn}"}

    report = converge(str(tree), ldap, check_mode=True)
    ops = {(c["op"], c["address"]) for c in report["changes"]}
    assert ("update", "nvbinh@khanhhoa.gov.vn") in ops
    assert ("create", gone) in ops
    assert ("drift", "ghost@khanhhoa.gov.vn") in ops
    assert len(ops) == 3


def test_an_unknown_cookie_or_a_copy_of_another_directory_means_a_full_read(tree, ldap, slapd, age_key, tmp_path):
    converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    path = mirror_file(ldap, str(tree))
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["cookie"]
    # a cookie the server never gave, and a copy that hides an entry
    hidden = next(iter(saved["entries"]))
    bad = {**saved, "cookie": "rid=000,csn=20200101000000.000000Z#000000#000#000000"}
    bad["entries"] = {k: v for k, v in saved["entries"].items() if k != hidden}
    path.write_text(json.dumps(bad), encoding="utf-8")
    how, current, _ = _how(ldap, tree)
    assert len(current) == 34  # the hidden entry is back, whichever way the server answered
    # a copy taken from another directory (other suffix entry): never used
    path.write_text(json.dumps({**saved, "database": "another", "entries": {}}), encoding="utf-8")
    how, current, _ = _how(ldap, tree)
    assert how == "sync-full" and len(current) == 34


def test_without_syncprov_the_paged_read_is_used(tree, age_key, tmp_path):
    with ThrowawaySlapd(syncprov=False) as server:
        dn, password = server.provisioner
        ldap = {"server_uri": server.uri, "bind_dn": dn, "bind_pw": password, "base_dn": server.suffix}
        assert converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))["failed"] == 0
        how, current, _ = _how(ldap, tree)
        assert how.startswith("paged") and len(current) == 34
        assert not mirror_file(ldap, str(tree)).exists()
        assert converge(str(tree), ldap)["changes"] == []


def test_a_refresh_left_incomplete_by_a_crash_is_not_used(tree, ldap, slapd):
    """slapd killed before syncprov checkpointed its contextCSN restarts with a stale one, and a
    refresh then leaves the newer entries out: the proof of completeness fails and the paged read
    is used instead."""
    directory = Directory.open(ldap)
    layout = Layout(slapd.suffix)
    _add_twenty_accounts(directory, layout)
    directory.close()
    slapd.restart()  # SIGKILL, then start again
    how, current, _ = _how(ldap, tree)
    assert len(current) == 20
    assert how in ("paged-unproven", "sync-full")  # unproven when the contextCSN is stale, as slapd 2.5 leaves it


def test_an_apply_that_left_the_context_csn_behind_still_saves_the_copy(tree, ldap, slapd):
    """syncprov can leave its contextCSN behind the newest write when the writes of a pipeline finish
    out of order (seen about once in sixty batches of 200): no refresh can be proven complete until
    the next write. The end of an apply makes that write, so the copy is saved and the next run reads
    by cookie. (As root over ldapi: a bind of an entry stamps its last bind, a write that would move
    the contextCSN on before the apply's end does.)"""
    root = {"server_uri": slapd.ldapi, "base_dn": slapd.suffix}
    layout = Layout(slapd.suffix)
    directory = Directory.open(root)
    before = directory.read(slapd.suffix, ["contextCSN"])["contextCSN"][0]
    _add_twenty_accounts(directory, layout)
    directory.close()
    slapd.set_context_csn(before)  # the contextCSN behind the twenty adds, as such a pipeline leaves it
    path = mirror_file(root, str(tree))
    directory = Directory.open(root)
    try:
        assert mirror.read(directory, layout, None)[2] == "paged-unproven"
        mirror.refresh_after_apply(directory, layout, path)
        current, _, how = mirror.read(directory, layout, path)
    finally:
        directory.close()
    assert how == "sync" and len(current) == 20
    provisioner = Directory.open(ldap)  # the identity that applies may make that write (the role's ACLs)
    try:
        mirror.advance_context_csn(provisioner, layout)
        assert provisioner.read(layout.accounts_dn, ["description"])["description"] == [mirror.ANCHOR]
    finally:
        provisioner.close()
