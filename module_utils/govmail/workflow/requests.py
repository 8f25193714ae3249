"""The requests of R7.2 and R8 as edits of the account files: new, reset, suspend, restore, revoke, change.

Each request finds the entry (by address, or by name within a unit), computes the new text of
the file(s) with minimal edits (``edits.py``), validates the whole edited tree, allocates the
address of a new entry, and only then writes. On any error nothing is written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..model import edits
from ..model.addresses import allocate, body_address, org_structural_accounts, unit_address
from ..model.names import nfc
from ..model.orgs import REASON_CODES, Org, Person, Tree, Unit
from ..model.problems import InvalidTree
from ..model.rules import load_valid
from ..model.tree import load
from ..model.writer import plan_edits, write_atomically
from ..model.yamlsource import parse

KINDS = ("new", "reset", "suspend", "restore", "revoke", "change")


class RequestError(ValueError):
    """A request that cannot be carried out; the message says why. Nothing was written."""


@dataclass
class Outcome:
    """What a request did: the files it changed and one line per account for the clerk."""

    files: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def _norm(text: str) -> str:
    return " ".join(nfc(text).split()).casefold()


def find_org(tree: Tree, org_id: str) -> Org:
    for org in tree.orgs:
        if org.id == org_id:
            return org
    known = ", ".join(sorted(o.id for o in tree.orgs))
    raise RequestError(f"no unit file has org.id {org_id!r} (known: {known})")


def find_person(
    tree: Tree, address: str | None = None, name: str | None = None, org_id: str | None = None, unit: str | None = None
) -> tuple[Org, Person]:
    """The one entry the request is about; an error when none or several match."""
    if address:
        address = address.strip().lower()
        if "@" not in address:
            address = f"{address}@{tree.province.domain}"
        for org in tree.orgs:
            for person in org.people:
                if person.address == address or address in person.aliases:
                    return org, person
        raise RequestError(f"no person has the address {address}")
    if not name or not org_id:
        raise RequestError("name the account by --address, or by --name and --org")
    org = find_org(tree, org_id)
    found = [p for p in org.people if _norm(p.name) == _norm(name) and (unit is None or p.unit == unit)]
    if not found:
        raise RequestError(f"{org.file}: nobody named {name!r}" + (f" in unit {unit}" if unit else ""))
    if len(found) > 1:
        where = ", ".join(f"line {org.source.line_of(p.fpath)} ({p.address or 'no address'})" for p in found)
        raise RequestError(f"{org.file}: {len(found)} people are named {name!r} ({where}); use --address or --unit")
    return org, found[0]


@dataclass
class Mailbox:
    """A unit, body or organisation mailbox a request is about (people are ``find_person``'s)."""

    org: Org
    kind: str  # org | body | unit
    address: str
    name: str
    status: str
    since: str | None
    reset: str | None
    unit: Unit | None = None  # kind unit
    body: str | None = None  # kind body: du | ubnd | hdnd


def find_mailbox(tree: Tree, address: str) -> Mailbox | None:
    """The unit, body or organisation mailbox with this address (its local part is enough), or None."""
    address = address.strip().lower()
    if "@" not in address:
        address = f"{address}@{tree.province.domain}"
    for org in tree.orgs:
        for account in org_structural_accounts(org, tree.province):
            if account.address != address:
                continue
            unit = next((u for u in org.units if u.path == account.unit), None) if account.kind == "unit" else None
            body = None
            if account.kind == "body":
                body = next(b for b in org.bodies if body_address(b, org.id, tree.province.domain) == address)
            return Mailbox(
                org, account.kind, address, account.name, account.status, account.since, account.reset, unit, body
            )
    return None


def _mailbox_who(tree: Tree, who: dict) -> Mailbox | None:
    """The mailbox ``who`` names by address, when it is not a person's."""
    address = who.get("address")
    if not address:
        return None
    try:
        find_person(tree, address=address)
    except RequestError:
        return find_mailbox(tree, address)
    return None


def reason_text(code: str, text: str | None, allowed=REASON_CODES) -> str:
    code = code.strip()
    if code not in allowed:
        raise RequestError(f"reason must start with one of: {', '.join(allowed)} (got {code!r})")
    return f"{code} {nfc(text).strip()}" if text and text.strip() else code


def next_reset_token(current: str | None, day: dt.date) -> str:
    """The date, or date-2, date-3 … when a reset was already requested that day."""
    base = day.isoformat()
    if current is None or not str(current).startswith(base):
        return base
    match = re.fullmatch(re.escape(base) + r"(?:-(\d+))?", str(current))
    number = int(match.group(1)) if match and match.group(1) else 1
    return f"{base}-{number + 1}"


class Session:
    """Edits on a tree, applied to texts in memory; ``commit`` validates, allocates and writes."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.tree = load_valid(self.root)
        self.texts: dict[str, str] = {}
        self.outcome = Outcome()
        self.form_path = ""  # the document a batch of requests came from (import-form)

    def _source(self, org: Org):
        path = org.source.path
        if path not in self.texts:
            return org.source
        src, problems = parse(path, self.texts[path])
        if problems:  # cannot happen with our own edits; refuse rather than guess
            raise InvalidTree(problems)
        return src

    def refresh(self) -> None:
        """Re-read the tree from the edited texts, so the next edit sees the entries as they now are."""
        tree, problems = load(self.root, self.texts)
        if tree is None or problems:
            raise InvalidTree(problems)
        self.tree = tree

    def set_fields(self, org: Org, person: Person, values: dict[str, object], remove: tuple[str, ...] = ()) -> None:
        for key, value in values.items():
            src = self._source(org)
            self.texts[src.path] = edits.set_key(src.text, src.nodes[person.fpath], key, value)
        for key in remove:
            src = self._source(org)
            self.texts[src.path] = edits.delete_key(src.text, src.nodes[person.fpath], key)

    def set_mailbox_fields(self, box: Mailbox, values: dict[str, object], remove: tuple[str, ...] = ()) -> None:
        """Edit the keys of a unit, body or organisation entry (the minimal edit, as for people)."""
        for key, value in values.items():
            src, node, order = self._mailbox_node(box)
            self.texts[src.path] = edits.set_key(src.text, node, key, value, order=order)
        for key in remove:
            src, node, _ = self._mailbox_node(box)
            self.texts[src.path] = edits.delete_key(src.text, node, key)

    def _mailbox_node(self, box: Mailbox):
        src = self._source(box.org)
        if box.kind == "unit":
            return src, src.nodes[box.unit.fpath], edits.UNIT_ORDER
        if box.kind == "org":
            return src, src.nodes[("org",)], edits.ORG_ORDER
        # a body: written as a bare id it becomes a mapping {id: ubnd} first
        org_node = src.nodes[("org",)]
        listed = src.data["org"].get("bodies")
        if listed is None:
            items = [{"id": b} if b == box.body else b for b in box.org.bodies]
            text = edits.set_key(src.text, org_node, "bodies", edits.Raw(edits.flow(items)), order=edits.ORG_ORDER)
        else:
            index = next(i for i, b in enumerate(listed) if (b.get("id") if isinstance(b, dict) else b) == box.body)
            node = src.nodes[("org", "bodies", index)]
            if isinstance(listed[index], dict):
                return src, node, edits.BODY_ORDER
            text = src.text[: node.start_mark.index] + edits.flow({"id": box.body}) + src.text[node.end_mark.index :]
        self.texts[src.path] = text
        src = self._source(box.org)
        listed = src.data["org"]["bodies"]
        index = next(i for i, b in enumerate(listed) if (b.get("id") if isinstance(b, dict) else b) == box.body)
        return src, src.nodes[("org", "bodies", index)], edits.BODY_ORDER

    def append_person(self, org: Org, entry: dict) -> None:
        src = self._source(org)
        self.texts[src.path] = edits.append_item(src, "people", entry)

    def remove_person(self, org: Org, person: Person) -> None:
        src = self._source(org)
        self.texts[src.path] = edits.remove_item(src, "people", person.fpath[1])

    def commit(self, write: bool = True) -> Outcome:
        """Validate the edited tree, allocate new addresses, write every changed file (or nothing)."""
        tree = load_valid(self.root, self.texts)
        assigned = allocate(tree)
        final = dict(self.texts)
        final.update(plan_edits(assigned))
        if assigned:
            check = load_valid(self.root, final)
            if allocate(check):
                raise RequestError("allocation did not round-trip; nothing was written")
        for org, person, address in assigned:
            self.outcome.lines.append(f"{org.file}: {person.name} → {address}")
        changed = {p: t for p, t in final.items() if Path(p).read_text(encoding="utf-8") != t}
        if write:
            for path, text in changed.items():
                write_atomically(path, text)
        self.outcome.files = sorted(changed)
        return self.outcome


def _today(date: dt.date | None) -> dt.date:
    return date or dt.date.today()


def op_new(
    s: Session, *, org_id: str, name: str, title: str, unit: str | None = None, given_name: str | None = None
) -> None:
    org = find_org(s.tree, org_id)
    entry = {"name": nfc(name).strip(), "title": nfc(title).strip()}
    if unit:
        entry["unit"] = unit
    if given_name:
        entry["given_name"] = nfc(given_name).strip()
    s.append_person(org, entry)
    s.outcome.lines.append(f"{org.file}: new entry {entry['name']} ({entry['title']})")
    s.refresh()


def op_unit_status(
    s: Session,
    *,
    org_id: str,
    unit_path: str,
    kind: str,
    reason: str,
    reason_more: str | None = None,
    date: dt.date | None = None,
) -> None:
    """suspend, restore or revoke the mailbox of a sub-unit (R5.1c/d): its status, reason and since."""
    org = find_org(s.tree, org_id)
    unit = next((u for u in org.units if u.path == unit_path), None)
    if unit is None:
        raise RequestError(f"{org.file}: no unit {unit_path!r}")
    if not unit.mailbox:
        raise RequestError(f"{org.file}: unit {unit.name} has no mailbox (mailbox: false)")
    box = find_mailbox(s.tree, unit_address(unit.id, unit.parent_id, s.tree.province.domain))
    _mailbox_status(s, box, kind, reason=reason, reason_more=reason_more, date=date)


def op_status(
    s: Session,
    *,
    kind: str,
    who: dict,
    reason: str | None = None,
    reason_more: str | None = None,
    date: dt.date | None = None,
) -> None:
    """suspend, restore, revoke: set status, reason and since (of a person, or of any other mailbox)."""
    box = _mailbox_who(s.tree, who)
    if box is not None:
        _mailbox_status(s, box, kind, reason=reason, reason_more=reason_more, date=date)
        return
    org, person = find_person(s.tree, **who)
    day = _today(date)
    if kind == "restore":
        if person.status != "suspended":
            raise RequestError(f"{person.address} is {person.status}; only a suspended account can be restored (R8.3)")
        s.set_fields(org, person, {"status": "active", "since": day}, remove=("reason",))
    elif kind in ("suspend", "revoke"):
        if person.status == "revoked":
            raise RequestError(f"{person.address} is already revoked; a revoked address is never brought back")
        if kind == "suspend" and person.status == "suspended":
            raise RequestError(f"{person.address} is already suspended (since {person.since})")
        if not reason:
            raise RequestError(f"{kind} needs --reason (one of: {', '.join(REASON_CODES)})")
        status = "suspended" if kind == "suspend" else "revoked"
        s.set_fields(org, person, {"status": status, "reason": reason_text(reason, reason_more), "since": day})
    else:
        raise RequestError(f"unknown status request {kind!r}")
    s.outcome.lines.append(f"{org.file}: {person.name} <{person.address}>: {kind}")
    s.refresh()


def _mailbox_status(s: Session, box: Mailbox, kind: str, *, reason, reason_more, date) -> None:
    day = _today(date)
    what = f"{box.name} <{box.address}>"
    if kind == "restore":
        if box.status != "suspended":
            raise RequestError(f"{box.address} is {box.status}; only a suspended account can be restored (R8.3)")
        s.set_mailbox_fields(box, {"status": "active", "since": day}, remove=("reason",))
    elif kind in ("suspend", "revoke"):
        if box.status == "revoked":
            raise RequestError(f"{box.address} is already revoked; a revoked address is never brought back")
        if kind == "suspend" and box.status == "suspended":
            raise RequestError(f"{box.address} is already suspended (since {box.since})")
        if not reason:
            raise RequestError(f"{kind} needs --reason (one of: {', '.join(REASON_CODES)})")
        status = "suspended" if kind == "suspend" else "revoked"
        s.set_mailbox_fields(box, {"status": status, "reason": reason_text(reason, reason_more), "since": day})
    else:
        raise RequestError(f"unknown status request {kind!r}")
    s.outcome.lines.append(f"{box.org.file}: {box.kind} mailbox {what}: {kind}")
    s.refresh()


def op_reset(s: Session, *, who: dict, date: dt.date | None = None) -> None:
    box = _mailbox_who(s.tree, who)
    if box is not None:
        if box.status != "active":
            raise RequestError(f"{box.address} is {box.status}; a password reset is for active accounts only")
        token = next_reset_token(box.reset, _today(date))
        s.set_mailbox_fields(box, {"reset": token})
        s.outcome.lines.append(f"{box.org.file}: {box.kind} mailbox {box.name} <{box.address}>: reset {token}")
        s.refresh()
        return
    org, person = find_person(s.tree, **who)
    if person.status != "active":
        raise RequestError(f"{person.address} is {person.status}; a password reset is for active accounts only")
    token = next_reset_token(person.reset, _today(date))
    s.set_fields(org, person, {"reset": token})
    s.outcome.lines.append(f"{org.file}: {person.name} <{person.address}>: reset {token}")
    s.refresh()


def op_change(
    s: Session,
    *,
    who: dict,
    title: str | None = None,
    unit: str | None = None,
    name: str | None = None,
    given_name: str | None = None,
    to_org: str | None = None,
) -> None:
    """Change of information: title, unit, name (the address stays), or a move to another unit file."""
    org, person = find_person(s.tree, **who)
    if person.status == "revoked":
        raise RequestError(f"{person.address} is revoked; its entry is kept as it was")
    values: dict[str, object] = {}
    if title:
        values["title"] = nfc(title).strip()
    if name:
        values["name"] = nfc(name).strip()
    if given_name:
        values["given_name"] = nfc(given_name).strip()
    if not person.address:
        raise RequestError(f"{person.name} has no address yet; run `govmail allocate` first")
    if to_org and to_org != org.id:
        target = find_org(s.tree, to_org)
        data = org.source.data["people"][person.fpath[1]]
        entry = {k: data[k] for k in edits.PERSON_ORDER if k in data and k != "unit"}
        entry.update(values)
        if unit:
            entry = {**{k: entry[k] for k in ("name", "title")}, "unit": unit, **entry}
        s.remove_person(org, person)
        s.append_person(target, entry)
        s.outcome.lines.append(f"{person.name} <{person.address}>: moved from {org.id} to {to_org}")
        s.refresh()
        return
    if unit:
        values["unit"] = unit
    if not values:
        raise RequestError("change needs at least one of --title, --unit, --name, --given-name, --to-org")
    s.set_fields(org, person, values)
    what = ", ".join(f"{k}: {v}" for k, v in values.items())
    s.outcome.lines.append(f"{org.file}: {person.name} <{person.address}>: {what}")
    s.refresh()


def _one(root, op, write: bool, **kwargs) -> Outcome:
    s = Session(root)
    op(s, **kwargs)
    return s.commit(write)


def request_new(root, *, write: bool = True, **kwargs) -> Outcome:
    return _one(root, op_new, write, **kwargs)


def request_status(root, *, write: bool = True, **kwargs) -> Outcome:
    return _one(root, op_status, write, **kwargs)


def request_reset(root, *, write: bool = True, **kwargs) -> Outcome:
    return _one(root, op_reset, write, **kwargs)


def request_change(root, *, write: bool = True, **kwargs) -> Outcome:
    return _one(root, op_change, write, **kwargs)
