"""Who may change what: one unit cannot request for another (R10.5), only TTCĐS changes everything (R7.1).

A change (``base...head``) is within the author's scope when every account file it touches is
owned by the author at the base revision (its ``owners:``), or the author is an approver
(``approvers:`` of ``province.yaml`` at the base). ``province.yaml``, new unit files and
deleted unit files are for approvers only. Ownership is read at the base, so a change cannot
grant itself the right to change a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from .gitlog import Git


@dataclass
class Verdict:
    path: str
    allowed: bool
    why: str

    def __str__(self) -> str:
        return f"{'ok     ' if self.allowed else 'REFUSED'} {self.path}: {self.why}"


def _data(git: Git, rev: str, path: str) -> dict | None:
    text = git.show(rev, path)
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def check_scope(
    git: Git, author: str, base: str, *, head: str = "HEAD", accounts: str = "accounts", teams: tuple[str, ...] = ()
) -> list[Verdict]:
    """A verdict for every file the change touches under ``accounts``."""
    merge_base = git.run("merge-base", base, head).strip()
    province = _data(git, merge_base, f"{accounts}/province.yaml") or {}
    me = {author.lstrip("@"), *(t.lstrip("@") for t in teams)}
    approvers = {str(a).lstrip("@") for a in province.get("approvers", [])}
    is_approver = bool(me & approvers)
    out = []
    for status, paths in git.changed(merge_base, head, accounts):
        for path in paths:
            if is_approver:
                out.append(Verdict(path, True, f"{author} is an approver"))
                continue
            if path == f"{accounts}/province.yaml":
                out.append(Verdict(path, False, "only the approvers (TTCĐS) change province.yaml"))
                continue
            before = _data(git, merge_base, path)
            if before is None:
                what = "a new file" if status.startswith(("A", "R", "C")) else "a file that did not parse at the base"
                out.append(Verdict(path, False, f"{what}: only the approvers (TTCĐS) add unit files"))
                continue
            owners = {str(o).lstrip("@") for o in (before.get("org") or {}).get("owners", [])}
            if me & owners:
                out.append(Verdict(path, True, f"owned by {', '.join(sorted(me & owners))}"))
            else:
                out.append(Verdict(path, False, f"owned by {', '.join(sorted(owners)) or 'nobody'}, not by {author}"))
    return out
