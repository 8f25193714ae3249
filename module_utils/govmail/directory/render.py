"""Plans and account lists as text, JSON, or a Markdown table for a pull-request comment."""

from __future__ import annotations

import json

from .plan import OPERATIONS, Change, summary

# Said to the unit on its pull request whenever existing mailboxes are taken over (R6.1).
ADOPT_NOTE = (
    "**adopt**: the mailbox keeps its password, but a password of unknown age must be changed at the next"
    " sign-in on the password page before mail can be read (R6.1) / mật khẩu cũ vẫn dùng được để đăng nhập"
    " trang đổi mật khẩu, và phải đổi trước khi đọc thư."
)


def _what(change: Change) -> str:
    details = "; ".join(f"{k}: {before!r} → {after!r}" for k, (before, after) in change.changes.items())
    if change.op == "create":
        return "; ".join(p for p in (change.status, details) if p)
    return details


def plan_text(changes: list[Change]) -> str:
    if not changes:
        return "No changes: the directory matches the account files."
    s = summary(changes)
    head = ", ".join(f"{s['by_op'][op]} {op}" for op in OPERATIONS if op in s["by_op"])
    lines = [f"Plan: {s['total']} change(s): {head}"]
    for c in changes:
        what = _what(c)
        lines.append(f"  {c.op:<8} {c.address:<40} {c.kind:<6} {c.name}" + (f"  ({what})" if what else ""))
    return "\n".join(lines)


def _cell(value: object) -> str:
    """A table cell showing what a unit wrote as inert text: in a code span, where Markdown, links,
    mentions, HTML and autolinks do nothing. Backticks cannot close the span (each becomes ʼ) and a
    pipe cannot end the cell."""
    text = " ".join(str(value if value is not None else "").split())
    if not text:
        return ""
    return "`" + text.replace("`", "ʼ").replace("|", "\\|") + "`"


def plan_markdown(changes: list[Change]) -> str:
    if not changes:
        return "### govmail plan\n\nNo changes: the directory matches the account files.\n"
    s = summary(changes)
    ops = [op for op in OPERATIONS if op in s["by_op"]]
    out = ["### govmail plan", "", f"**{s['total']} change(s)**", ""]
    out += ["| operation | count |", "|---|---:|"] + [f"| {op} | {s['by_op'][op]} |" for op in ops] + [""]
    per_org: dict[str, dict[str, int]] = {}
    for c in changes:
        row = per_org.setdefault(c.org or "(province)", {})
        row[c.op] = row.get(c.op, 0) + 1
    out += ["| unit | " + " | ".join(ops) + " |", "|---|" + "---:|" * len(ops)]
    out += [
        f"| {_cell(org)} | " + " | ".join(str(row.get(op, "")) for op in ops) + " |"
        for org, row in sorted(per_org.items())
    ]
    out += ["", "| operation | address | kind | unit | name | details |", "|---|---|---|---|---|---|"]
    for c in changes:
        unit = "/".join(p for p in (c.org, c.unit) if p)
        cells = [c.op, _cell(c.address), c.kind, _cell(unit), _cell(c.name), _cell(_what(c))]  # op, kind: the engine's
        out.append("| " + " | ".join(cells) + " |")
    if "adopt" in s["by_op"]:
        out += ["", ADOPT_NOTE]
    return "\n".join(out) + "\n"


def plan_json(changes: list[Change]) -> str:
    return json.dumps(
        {"summary": summary(changes), "changes": [c.as_dict() for c in changes]}, ensure_ascii=False, indent=2
    )


def accounts_text(accounts: list[dict]) -> str:
    rows = []
    for a in accounts:
        unit = "/".join(p for p in (a["org"], a["unit"]) if p)
        rows.append(f"{a['address']:<40} {a['kind']:<6} {a['status']:<9} {unit:<24} {a['name']}")
    return "\n".join(rows)
