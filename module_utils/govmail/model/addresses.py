"""Article 5: the addresses of units, bodies and people, and the allocation of new ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields

from .names import person_base
from .orgs import BODIES, COMMUNE_KINDS, PLACE_WORD, Org, Person, Province, Tree, Unit


@dataclass
class Account:
    """One mailbox as the directory should hold it."""

    address: str
    kind: str  # person | org | body | unit | system
    org: str | None
    unit: str | None
    name: str
    title: str | None
    status: str = "active"
    reason: str | None = None
    since: str | None = None
    reset: str | None = None
    aliases: list[str] = field(default_factory=list)
    file: str | None = None
    line: int | None = None
    quota: str | None = None  # mailbox quota (Dovecot size, "2G"); None: the mail server's default

    def as_dict(self) -> dict:
        # Hand-written: dataclasses.asdict deep-copies and costs seconds on a province-sized tree.
        return {f: getattr(self, f) for f in _FIELDS} | {"aliases": list(self.aliases)}


_FIELDS = tuple(f.name for f in fields(Account))


def org_address(org_id: str, kind: str, domain: str, province_code: str) -> str | None:
    """The unit's own address: R5.1a ``<id>@``, R5.1đ ``<id>.<province code>@``; communes have bodies instead."""
    if kind == "province_body":
        return f"{org_id}@{domain}"
    if kind == "other_body":
        return f"{org_id}.{province_code}@{domain}"
    return None


def body_address(body: str, commune_slug: str, domain: str) -> str:
    """R5.1b: ``ubndninhphuoc@`` — body prefix joined to the commune's slug."""
    return f"{body}{commune_slug}@{domain}"


def unit_address(unit_id: str, parent_id: str, domain: str) -> str:
    """R5.1c/R5.1d: ``<unit>.<parent>@`` where parent is the org (or commune slug) or the enclosing unit."""
    return f"{unit_id}.{parent_id}@{domain}"


def person_candidates(base: str, org_id: str, domain: str) -> Iterator[str]:
    """R5.2: ``base@``, then ``base.<org>@``, ``base2.<org>@``, ``base3.<org>@`` …"""
    yield f"{base}@{domain}"
    yield f"{base}.{org_id}@{domain}"
    number = 2
    while True:
        yield f"{base}{number}.{org_id}@{domain}"
        number += 1


def first_free(base: str, org_id: str, domain: str, taken: set[str]) -> str:
    return next(a for a in person_candidates(base, org_id, domain) if a not in taken)


def _org_accounts(org: Org, province: Province) -> list[Account]:
    src = org.source
    out = []
    common = {"org": org.id, "status": org.status, "reason": org.reason, "since": org.since, "file": src.path}
    if org.mailbox:
        own = org_address(org.id, org.kind, province.domain, province.province_code)
        if own:
            out.append(
                Account(
                    own,
                    "org",
                    unit=None,
                    name=org.name,
                    title=None,
                    reset=org.reset,
                    line=src.line_of(("org",)),
                    **common,
                )
            )
        if org.kind in COMMUNE_KINDS:
            place = f"{PLACE_WORD[org.kind]} {org.name}"
            for index, body in enumerate(org.bodies):
                state = org.body_states.get(body)
                line = src.line_of(("org", "bodies", index)) if "bodies" in src.data["org"] else src.line_of(("org",))
                out.append(
                    Account(
                        body_address(body, org.id, province.domain),
                        "body",
                        unit=None,
                        name=f"{BODIES[body]} {place}",
                        title=None,
                        line=line,
                        **{**common, **(state or {})},
                    )
                )
    return out


def _unit_account(org: Org, unit: Unit, domain: str) -> Account:
    return Account(
        unit_address(unit.id, unit.parent_id, domain),
        "unit",
        org=org.id,
        unit=unit.path,
        name=unit.name,
        title=None,
        status=unit.status,
        reason=unit.reason,
        since=unit.since,
        reset=unit.reset,
        file=org.source.path,
        line=org.source.line_of(unit.fpath),
    )


def _person_account(org: Org, person: Person, address: str) -> Account:
    return Account(
        address,
        "person",
        org=org.id,
        unit=person.unit,
        name=person.name,
        title=person.title,
        status=person.status,
        reason=person.reason,
        since=person.since,
        reset=person.reset,
        aliases=list(person.aliases),
        file=org.source.path,
        line=org.source.line_of(person.fpath),
        quota=person.quota,
    )


def org_structural_accounts(org: Org, province: Province) -> list[Account]:
    """The org's own, body and unit accounts: what one unit file declares besides its people."""
    return _org_accounts(org, province) + [_unit_account(org, u, province.domain) for u in org.units if u.mailbox]


def structural_accounts(tree: Tree) -> list[Account]:
    """System, org, body and unit accounts: derived from the files, never allocated."""
    province = tree.province
    out = [
        Account(
            s["address"],
            "system",
            org=None,
            unit=None,
            name=s["name"],
            title=s.get("title"),
            file=province.source.path,
            line=province.source.line_of(("system_accounts", i)),
        )
        for i, s in enumerate(province.system_accounts)
    ]
    for org in tree.orgs:
        out += org_structural_accounts(org, province)
    return out


def taken_addresses(tree: Tree) -> set[str]:
    """Everything no new person may receive: every account, alias, revoked address and reserved name."""
    domain = tree.province.domain
    taken = {a.address for a in structural_accounts(tree)}
    taken |= {f"{name}@{domain}" for name in tree.province.reserved}
    for org in tree.orgs:
        for person in org.people:
            if person.address:
                taken.add(person.address)
            taken.update(person.aliases)
    return taken


def allocate(tree: Tree) -> list[tuple[Org, Person, str]]:
    """Addresses for people who have none, in file order then entry order (deterministic).

    The tree must be valid. Revoked entries without an address get none.
    """
    taken = taken_addresses(tree)
    assigned = []
    for org in tree.orgs:
        for person in org.people:
            if person.address or person.status == "revoked":
                continue
            address = first_free(person_base(person.name, person.given_name), org.id, tree.province.domain, taken)
            taken.add(address)
            assigned.append((org, person, address))
    return assigned


def accounts(tree: Tree, assigned: list[tuple[Org, Person, str]] | None = None) -> list[Account]:
    """Every account the tree defines, with pending allocations filled in."""
    if assigned is None:
        assigned = allocate(tree)
    pending = {id(person): address for _, person, address in assigned}
    out = structural_accounts(tree)
    for org in tree.orgs:
        for person in org.people:
            address = person.address or pending.get(id(person))
            if address:
                out.append(_person_account(org, person, address))
    for account in out:  # the province's default for the kind, unless the account file sets one
        account.quota = account.quota or tree.province.quotas.get(account.kind)
    return out
