"""Which mail backend holds each mailbox (issue 14 §3): the documented rule of directory/placement.py —
least loaded, ties by the inventory's order, assigned once and never changed by the convergence."""

from __future__ import annotations

import pytest

from govmail.directory import placement
from govmail.directory.converge import DirectoryWriter
from govmail.directory.plan import Change
from govmail.model.addresses import Account

B1, B2, B3 = "mail1.khanhhoa.gov.vn", "mail2.khanhhoa.gov.vn", "mail3.khanhhoa.gov.vn"


def _create(address: str, status: str = "active") -> Change:
    return Change("create", address, "person", "skhcn", None, "Người Thử", status)


def _entry(address: str, host: str | None, status: str = "active", tree: str = "accounts") -> dict:
    return {"address": address, "kind": "person", "org": "skhcn", "unit": None, "name": "X", "status": status,
            "mail_host": host, "in_live_tree": tree == "accounts", "dn": f"uid={address},ou={tree}"}  # fmt: skip


def test_new_mailboxes_are_spread_evenly_in_address_order():
    changes = [_create(f"u{i:02d}@khanhhoa.gov.vn") for i in range(10)]
    out, hosts = placement.assign(changes, [], [B1, B2])
    assert [hosts[f"u{i:02d}@khanhhoa.gov.vn"] for i in range(4)] == [B1, B2, B1, B2]
    assert sorted(hosts.values()).count(B1) == 5 and sorted(hosts.values()).count(B2) == 5
    assert all(c.changes["mail_host"] == [None, hosts[c.address]] for c in out)


def test_the_least_loaded_backend_fills_first_and_assigned_ones_never_move():
    current = [_entry(f"old{i}@khanhhoa.gov.vn", B1) for i in range(4)] + [_entry("x@khanhhoa.gov.vn", B2)]
    changes = [_create(f"new{i}@khanhhoa.gov.vn") for i in range(5)]
    out, hosts = placement.assign(changes, current, [B1, B2, B3])
    # B3 (empty) and B2 (1) catch up with B1 (4) before anyone goes to B1 again.
    assert list(hosts.values()).count(B1) == 0
    assert placement.load(current, [B1, B2, B3]) == {B1: 4, B2: 1, B3: 0}
    assert not any(c.op == placement.PLACE for c in out)  # every current entry already has a host
    assert all(a not in hosts for a in (e["address"] for e in current))


def test_live_entries_without_a_backend_get_one_revoked_and_leaving_ones_do_not():
    current = [
        _entry("a@khanhhoa.gov.vn", None),
        _entry("s@khanhhoa.gov.vn", None, status="suspended"),
        _entry("r@khanhhoa.gov.vn", None, status="revoked", tree="revoked"),
        _entry("going@khanhhoa.gov.vn", None),
    ]
    revoke = Change("revoke", "going@khanhhoa.gov.vn", "person", "skhcn", None, "X", "revoked")
    out, hosts = placement.assign([revoke], current, [B1, B2])
    assert hosts == {"a@khanhhoa.gov.vn": B1, "s@khanhhoa.gov.vn": B2}
    assert [c.op for c in out] == [placement.PLACE, placement.PLACE, "revoke"]


def test_a_retired_backend_counts_nowhere_and_its_mailboxes_stay():
    current = [_entry(f"o{i}@khanhhoa.gov.vn", "old.khanhhoa.gov.vn") for i in range(3)]
    out, hosts = placement.assign([_create("n@khanhhoa.gov.vn")], current, [B2, B1])
    assert hosts == {"n@khanhhoa.gov.vn": B2}  # equal (0, 0): the first listed
    assert len(out) == 1


def test_one_mail_host_uses_no_routing_attribute():
    changes = [_create("a@khanhhoa.gov.vn")]
    assert placement.assign(changes, [_entry("b@khanhhoa.gov.vn", None)], []) == (changes, {})
    assert "mail_host" not in changes[0].changes


def test_a_suspended_creation_gets_a_backend_a_revoked_one_does_not():
    _, hosts = placement.assign(
        [_create("s@khanhhoa.gov.vn", "suspended"), _create("r@khanhhoa.gov.vn", "revoked")], [], [B1]
    )
    assert hosts == {"s@khanhhoa.gov.vn": B1}


@pytest.mark.parametrize("bad", [[""], ["mail1 x"], [B1, B1.upper()]])
def test_a_bad_backend_list_is_refused_naming_it(bad):
    with pytest.raises(placement.BadBackends, match="mail_backends"):
        placement.check_backends(bad)


def test_the_created_entry_carries_its_backend_and_place_writes_only_it():
    account = Account(address="a@khanhhoa.gov.vn", kind="person", org="skhcn", unit=None, name="Lê Na", title=None)
    _, (_, _, attrs) = DirectoryWriter.create_request("uid=a,ou=accounts", account, "pw", "tok", B2)
    assert attrs["govmailMailHost"] == [B2]
    _, (_, _, attrs) = DirectoryWriter.create_request("uid=a,ou=accounts", account, "pw", "tok")
    assert "govmailMailHost" not in attrs
    _, (op, _dn, changes) = DirectoryWriter.place_request("uid=a,ou=accounts", B1)
    assert (op, list(changes)) == ("modify", ["govmailMailHost"])
    # An update (what every later run writes) never touches the backend.
    _, (_, _, changes) = DirectoryWriter.update_request("uid=a,ou=accounts", account)
    assert "govmailMailHost" not in changes
