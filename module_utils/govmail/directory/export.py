"""The public directory (R9.2c) for systems that cannot speak LDAP: every live mailbox of the
account files — units, bodies and people with name, title, unit and address — as JSON, CSV or
vCard. Never a state, a reason, a reset token or anything else: the same fields as the directory
view that the slapd role gives the address book (docs/directory.md). Revoked accounts are left out;
suspended ones stay (they still receive mail, R8.1)."""

from __future__ import annotations

import csv
import io
import json

from ..model.addresses import Account, accounts
from ..model.orgs import Tree

FIELDS = ("address", "kind", "name", "title", "org", "org_name", "unit", "unit_name")


def public_entries(tree: Tree) -> list[dict]:
    org_names = {o.id: o.name for o in tree.orgs}
    unit_names = {(o.id, u.id): u.name for o in tree.orgs for u in o.units}
    unit_names |= {(o.id, u.path): u.name for o in tree.orgs for u in o.units}
    rows = []
    for a in accounts(tree):
        if a.status == "revoked":
            continue
        rows.append(_row(a, org_names, unit_names))
    return sorted(rows, key=lambda r: (r["org"] or "", r["unit"] or "", r["kind"] != "org", r["name"], r["address"]))


def _row(a: Account, org_names: dict, unit_names: dict) -> dict:
    return {
        "address": a.address,
        "kind": a.kind,
        "name": a.name,
        "title": a.title or "",
        "org": a.org or "",
        "org_name": org_names.get(a.org, "") if a.org else "",
        "unit": a.unit or "",
        "unit_name": unit_names.get((a.org, a.unit), "") if a.unit else "",
    }


def as_json(rows: list[dict]) -> str:
    return json.dumps({"entries": rows}, ensure_ascii=False, indent=2) + "\n"


def as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        # A cell starting with = + - @ is a formula in spreadsheets: quote it as text.
        writer.writerow({k: ("'" + v if v and v[0] in "=+-@" else v) for k, v in row.items()})
    return out.getvalue()


def _vescape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 6350 §3.2: lines of at most 75 octets, continued with a leading space."""
    data = line.encode("utf-8")
    parts, start = [], 0
    while start < len(data):
        end = min(start + (75 if not parts else 74), len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return "\r\n ".join(parts) if parts else ""


def as_vcard(rows: list[dict]) -> str:
    cards = []
    for r in rows:
        person = r["kind"] == "person"
        org = ";".join(_vescape(p) for p in (r["org_name"], r["unit_name"]) if p)
        lines = [
            "BEGIN:VCARD",
            "VERSION:4.0",
            f"KIND:{'individual' if person else 'org'}",
            f"FN:{_vescape(r['name'])}",
        ]
        if person:
            words = r["name"].split()
            lines.append(f"N:{_vescape(words[0])};{_vescape(' '.join(words[1:]))};;;")
        if r["title"]:
            lines.append(f"TITLE:{_vescape(r['title'])}")
        if org:
            lines.append(f"ORG:{org}")
        lines += [f"EMAIL;TYPE=work:{r['address']}", f"UID:mailto:{r['address']}", "END:VCARD"]
        cards.append("\r\n".join(_fold(line) for line in lines))
    return "\r\n".join(cards) + ("\r\n" if cards else "")


FORMATS = {"json": as_json, "csv": as_csv, "vcard": as_vcard}


def export(tree: Tree, fmt: str) -> str:
    return FORMATS[fmt](public_entries(tree))
