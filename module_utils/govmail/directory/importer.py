"""Brownfield adoption: account files written from an existing directory or a CSV export.

Every existing address is kept as it is (an address written in a file is an explicit request,
R5.2's allocation never renames anyone). Rows that cannot be mapped are reported, not guessed.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..model.addresses import org_address
from ..model.names import InvalidName, person_base, vn_slug
from ..model.orgs import BODIES, COMMUNE_KINDS
from ..model.writer import write_atomically
from .ldap_client import Directory

CSV_COLUMNS = ("address", "name", "title", "org", "unit", "status")
_ADDRESS = re.compile(r"^[a-z0-9]+(\.[a-z0-9]+)*@[a-z0-9-]+(\.[a-z0-9-]+)+$")
_ID = re.compile(r"^[a-z][a-z0-9]*$")
# File names the import may never produce from a source's org value: they are the province's own.
RESERVED_IDS = frozenset({"province"})
MAX_ID = 64


@dataclass
class Imported:
    files: dict[str, str] = field(default_factory=dict)  # relative path → YAML text
    skipped: list[str] = field(default_factory=list)  # "where: why"
    counts: dict[str, int] = field(default_factory=dict)


def _org_identity(value: str, communes: dict[str, list[str]]) -> tuple[str, str, str]:
    """(id, name, kind) for an org named in the source: an id as is, a name by its slug."""
    for kind in COMMUNE_KINDS:
        for name in communes.get(kind, []):
            if value in (name, vn_slug(name)):
                return vn_slug(name), name, kind
    org_id = value if _ID.match(value) else vn_slug(value)
    return org_id, value, "province_body"


def _bad_id(org_id: str, value: str) -> str | None:
    """Why ``org_id`` (from the source's org value) cannot name an account file, or None."""
    if not _ID.match(org_id) or len(org_id) > MAX_ID:
        return f"org {value!r} gives no usable id (lower-case letters and digits, a letter first, at most {MAX_ID})"
    if org_id in RESERVED_IDS:
        return f"org {value!r} would write {org_id}.yaml, the province's own file"
    return None


def _is_unit_mailbox(local: str, org_id: str, name: str) -> str | None:
    """The unit id when ``local`` is ``<unit>.<org>`` and not a person's R5.2 address."""
    head, _, tail = local.partition(".")
    if tail != org_id or not _ID.match(head):
        return None
    try:
        base = person_base(name)
    except InvalidName:
        return head
    return None if re.fullmatch(re.escape(base) + r"[0-9]*", head) else head


def _row_problem(row: dict, address: str, domain: str, seen: set[str]) -> str | None:
    if not _ADDRESS.match(address) or not address.endswith("@" + domain):
        return f"address {address!r} is not a well-formed address in {domain}"
    if address in seen:
        return f"address {address} appears twice"
    if not row.get("org"):
        return f"{address} has no unit (org) to file it under"
    return None


def _place(org: dict, row: dict, address: str, name: str, *, domain: str, province_code: str) -> None:
    """File one mailbox under its org: the org's own, a body, a unit, or a person."""
    org_id, kind = org["id"], org["kind"]
    local = address.split("@", 1)[0]
    if address == org_address(org_id, kind, domain, province_code):
        org["own"] = True  # derived from the file: nothing more to write
        return
    body = next((b for b in BODIES if kind in COMMUNE_KINDS and local == f"{b}{org_id}"), None)
    if body:
        org["bodies"].append(body)
        return
    unit_id = _is_unit_mailbox(local, org_id, name)
    if unit_id:
        org["units"][unit_id] = name or unit_id
        return
    person = {"name": name, "title": (row.get("title") or "").strip() or "Chưa rõ chức vụ"}
    if row.get("unit"):
        unit = row["unit"] if _ID.match(row["unit"]) else vn_slug(row["unit"])
        org["units"].setdefault(unit, row["unit"])
        person["unit"] = unit
    person["address"] = address
    if row.get("status") in ("suspended", "revoked"):
        since = row.get("since") or dt.date.today().isoformat()
        person.update(status=row["status"], reason="other: imported in this state", since=since)
    org["people"].append(person)


def _render(org: dict) -> str:
    head = {"id": org["id"], "name": org["name"], "kind": org["kind"], "owners": [f"{org['id']}-owners"]}
    # Only the mailboxes that exist: no new org or body mailbox appears because of an import.
    if org["kind"] in COMMUNE_KINDS and org["bodies"]:
        head["bodies"] = [b for b in BODIES if b in org["bodies"]]
    elif not org["own"] or org["kind"] in COMMUNE_KINDS:
        head["mailbox"] = False
    doc: dict = {"org": head}
    if org["units"]:
        doc["units"] = [{"id": uid, "name": uname} for uid, uname in sorted(org["units"].items())]
    if org["people"]:
        doc["people"] = org["people"]
    header = "# yaml-language-server: $schema=../module_utils/govmail/schema/org.schema.json\n"
    header += "# Written by `govmail import`: every address is the one the mailbox already had.\n"
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)


def build(rows: list[dict], domain: str, province_code: str, communes: dict | None = None) -> Imported:
    """Group rows (address, name, title, org, unit, status, where) into one file per org."""
    out = Imported()
    orgs: dict[str, dict] = {}
    seen: set[str] = set()
    for row in rows:
        address = (row.get("address") or "").strip().lower()
        problem = _row_problem(row, address, domain, seen)
        if problem:
            out.skipped.append(f"{row.get('where', '?')}: {problem}")
            continue
        org_id, org_name, kind = _org_identity(row["org"].strip(), communes or {})
        bad = _bad_id(org_id, row["org"])
        if bad:
            out.skipped.append(f"{row.get('where', '?')}: {bad}")
            continue
        seen.add(address)
        empty = {"id": org_id, "name": org_name, "kind": kind, "units": {}, "people": [], "own": False, "bodies": []}
        org = orgs.setdefault(org_id, empty)
        name = " ".join((row.get("name") or "").split())
        _place(org, row, address, name, domain=domain, province_code=province_code)
    out.files = {f"{org_id}.yaml": _render(org) for org_id, org in sorted(orgs.items())}
    out.counts = {
        "orgs": len(orgs),
        "people": sum(len(o["people"]) for o in orgs.values()),
        "skipped": len(out.skipped),
    }
    return out


def rows_from_csv(path: str) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("address", "name", "org") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: the header must name the columns {', '.join(CSV_COLUMNS)}; missing {missing}")
        return [{**row, "where": f"{path}:{number}"} for number, row in enumerate(reader, start=2)]


def rows_from_ldap(directory: Directory, base: str, org_attr: str = "ou", status_attr: str | None = None) -> list[dict]:
    """Every entry with a mail address under ``base`` (one paged read; ReadError if it stops short)."""
    attrs = ["mail", "cn", "displayName", "title", org_attr] + ([status_attr] if status_attr else [])
    rows = []
    for dn, found in directory.search(base, "(mail=*)", attrs):
        a = {key.lower(): values for key, values in found.items()}  # attribute names are case-insensitive

        def first(key, a=a):
            values = a.get(key.lower())
            return values[0] if values else None

        rows.append(
            {
                "address": first("mail"),
                "name": first("displayName") or first("cn"),
                "title": first("title"),
                "org": first(org_attr),
                "status": first(status_attr) if status_attr else None,
                "where": dn,
            }
        )
    return rows


def write(result: Imported, out_dir: str, domain: str, province_code: str, force: bool = False) -> list[str]:
    """Write the files (and a province file when there is none); refuses to overwrite without force."""
    root = Path(out_dir)
    for name in result.files:  # every name checked before anything is written
        if _bad_id(name.removesuffix(".yaml"), name) or not name.endswith(".yaml"):
            raise ValueError(f"refusing to write {name!r}: not an account file name; nothing was written")
    root.mkdir(parents=True, exist_ok=True)
    existing = [name for name in result.files if (root / name).exists()]
    if existing and not force:
        raise FileExistsError(f"{out_dir}: {', '.join(existing)} exist already (use --force to overwrite)")
    written = []
    province = root / "province.yaml"
    if not province.exists():
        province.write_text(
            f"domain: {domain}\nprovince_code: {province_code}\napprovers: [ttcds]\n"
            "reserved: [postmaster, abuse, hostmaster, webmaster, root, admin, noreply]\n",
            encoding="utf-8",
        )
        written.append(str(province))
    for name, text in result.files.items():
        path = root / name
        if path.exists():
            write_atomically(str(path), text)
        else:
            path.write_text(text, encoding="utf-8")
        written.append(str(path))
    return written
