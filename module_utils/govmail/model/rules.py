"""Checks that need the whole tree: ids, unit paths, states, names and address collisions."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

from .addresses import structural_accounts
from .filecache import bulk
from .names import InvalidName, person_base, vn_slug
from .orgs import COMMUNE_KINDS, PLACE_WORD, Org, Tree
from .problems import InvalidTree, Problem
from .tree import load
from .yamlsource import Source


def _texts(src: Source, data: object, path: tuple = ()):
    """Every string value in a file with its field path."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _texts(src, value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _texts(src, value, (*path, index))
    elif isinstance(data, str):
        yield path, data


def _nfc(src: Source) -> list[Problem]:
    return [
        src.problem(path, "is not in Unicode NFC (composed) form as R3.4 requires; retype or normalise it")
        for path, text in _texts(src, src.data)
        if not unicodedata.is_normalized("NFC", text)
    ]


def _state(
    src: Source, fpath: tuple, status: str, reason: str | None, since: str | None, *, dates: list
) -> list[Problem]:
    """Problems of a state; a well-formed ``since`` goes to ``dates`` (whether it is in the future
    depends on the day, so it is checked on every run, never cached)."""
    problems = []
    if status != "active":
        if not reason:
            problems.append(src.problem((*fpath, "status"), f"status {status} needs a reason (R8.2)"))
        if not since:
            problems.append(
                src.problem((*fpath, "status"), f"status {status} needs since: the date of the change (R8.1)")
            )
    if reason and reason.split()[0].rstrip(":—-,") == "other" and len(reason.split()) < 2:
        problems.append(src.problem((*fpath, "reason"), "'other' needs a few words saying what the reason is"))
    if since:
        try:
            day = dt.date.fromisoformat(since)
        except ValueError:
            problems.append(src.problem((*fpath, "since"), f"{since!r} is not a real date"))
        else:
            dates.append([*fpath, day.isoformat()])
    return problems


def _future(src: Source, dates: list) -> list[Problem]:
    today = dt.date.today().isoformat()  # ISO dates compare as text
    return [src.problem((*d[:-1], "since"), f"{d[-1]} is in the future") for d in dates if d[-1] > today]


def _excuse_rules(src: Source, fp: tuple, excuse: dict | None) -> list[Problem]:
    """R8.2a's reason for an unused account: its end date must be a real date."""
    if not excuse:
        return []
    until = str(excuse["until"])
    try:
        dt.date.fromisoformat(until)
    except ValueError:
        return [src.problem((*fp, "inactive_reason", "until"), f"{until!r} is not a real date")]
    return []


def _body_rules(org: Org, dates: list) -> list[Problem]:
    """A commune's bodies: each listed once; a body with a state of its own follows the state rules."""
    src, problems = org.source, []
    listed = src.data["org"].get("bodies") or []
    for index, body in enumerate(org.bodies):
        if org.bodies.index(body) != index:
            problems.append(src.problem(("org", "bodies", index), f"body {body!r} is listed twice"))
        elif index < len(listed) and isinstance(listed[index], dict):
            state = org.body_states[body]
            problems += _state(
                src, ("org", "bodies", index), state["status"], state["reason"], state["since"], dates=dates
            )
    return problems


def _org_rules(tree: Tree, org: Org) -> list[Problem]:
    """The rules of one file alone, from the file cache when its entry has them."""
    src = org.source
    if src.rules is None:
        dates: list = []
        own = _org_rules_uncached(tree, org, dates)
        src.rules = {"problems": [[p.line, p.field, p.message] for p in own], "dates": dates}
        if src.cache_slot:
            cache, key, entry = src.cache_slot
            cache.put(key, {**entry, "rules": src.rules})
    own = [Problem(src.path, *p) for p in src.rules["problems"]]
    return own + _future(src, src.rules["dates"])


def _org_rules_uncached(tree: Tree, org: Org, dates: list) -> list[Problem]:
    src = org.source
    problems = _nfc(src)
    stem = Path(src.path).stem
    if stem != org.id:
        problems.append(src.problem(("org", "id"), f"is {org.id!r} but the file is named {stem}.yaml; they must match"))
    if org.kind in COMMUNE_KINDS:
        slug = vn_slug(org.name)
        if org.id != slug:
            problems.append(src.problem(("org", "id"), f"must be the slug of the name {org.name!r}: {slug!r} (R5.1b)"))
        known = tree.province.communes
        if known is not None and org.name not in known[org.kind]:
            problems.append(
                src.problem(
                    ("org", "name"),
                    f"{PLACE_WORD[org.kind]} {org.name!r} is not in the province's reference list of {org.kind}s",
                )
            )
    elif "bodies" in src.data["org"]:
        problems.append(src.problem(("org", "bodies"), "only communes, wards and the special zone have bodies (R5.1b)"))
    problems += _state(src, ("org",), org.status, org.reason, org.since, dates=dates)
    problems += _body_rules(org, dates)

    seen: dict[str, tuple] = {}
    for unit in org.units:
        if unit.path in seen:
            problems.append(src.problem((*unit.fpath, "id"), f"unit {unit.id!r} is declared twice here"))
        seen[unit.path] = unit.fpath
        problems += _state(src, unit.fpath, unit.status, unit.reason, unit.since, dates=dates)

    for person in org.people:
        fp = person.fpath
        if person.unit and person.unit not in seen:
            known = ", ".join(sorted(seen)) or "none declared"
            problems.append(src.problem((*fp, "unit"), f"unknown unit path {person.unit!r} (units: {known})"))
        try:
            person_base(person.name, person.given_name)
        except InvalidName as exc:
            field = "given_name" if "given_name" in str(exc) else "name"
            problems.append(src.problem((*fp, field), str(exc)))
        problems += _state(src, fp, person.status, person.reason, person.since, dates=dates)
        problems += _excuse_rules(src, fp, person.inactive_reason)
        if person.status == "revoked" and not person.address:
            problems.append(src.problem((*fp, "status"), "a revoked entry must keep the address it had"))
    return problems


def _address_rules(tree: Tree) -> list[Problem]:
    """Every address in the domain, none reserved, none claimed twice."""
    province = tree.province
    domain = province.domain
    reserved = {f"{name}@{domain}" for name in province.reserved}
    system = {s["address"] for s in province.system_accounts}
    claims: list[tuple[str, Source, tuple, str]] = []  # address, file, field, what claims it

    for index, s in enumerate(province.system_accounts):
        claims.append((s["address"], province.source, ("system_accounts", index, "address"), "system account"))
    for account in structural_accounts(tree):
        if account.kind == "system":
            continue
        org = next(o for o in tree.orgs if o.id == account.org)
        unit = next((u for u in org.units if u.path == account.unit), None)
        fpath = (*unit.fpath, "id") if unit else ("org", "id")
        claims.append((account.address, org.source, fpath, f"{account.kind} {account.name}"))
    for org in tree.orgs:
        for person in org.people:
            if person.address:
                claims.append((person.address, org.source, (*person.fpath, "address"), person.name))
            for i, alias in enumerate(person.aliases):
                claims.append((alias, org.source, (*person.fpath, "aliases", i), f"alias of {person.name}"))

    problems = []
    first: dict[str, tuple[Source, tuple, str]] = {}
    for address, src, fpath, who in claims:
        if not address.endswith("@" + domain):
            problems.append(src.problem(fpath, f"{address!r} is not in the domain {domain}"))
        elif address in reserved and address not in system:
            problems.append(src.problem(fpath, f"{address!r} is a reserved name"))
        if address in first:
            other_src, other_path, other_who = first[address]
            where = f"{other_src.path}:{other_src.line_of(other_path)}"
            problems.append(src.problem(fpath, f"{address!r} ({who}) is already used by {other_who} at {where}"))
        else:
            first[address] = (src, fpath, who)
    return problems


def check(tree: Tree) -> list[Problem]:
    """Every problem of a loaded tree; empty when the tree is valid."""
    problems = _nfc(tree.province.source)
    ids: dict[str, Org] = {}
    for org in tree.orgs:
        if org.id in ids:
            problems.append(org.source.problem(("org", "id"), f"{org.id!r} is also the id in {ids[org.id].file}"))
        ids.setdefault(org.id, org)
        problems += _org_rules(tree, org)
    problems += _address_rules(tree)
    return problems


def load_valid(root: str | Path, texts: dict[str, str] | None = None) -> Tree:
    """The tree under root (with ``texts`` replacing files' content), or InvalidTree listing every problem."""
    with bulk():
        tree, problems = load(root, texts)
        if tree is not None:
            problems += check(tree)
    if problems:
        raise InvalidTree(problems)
    return tree
