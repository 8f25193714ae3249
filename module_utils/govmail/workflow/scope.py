"""Who may change what: one unit cannot request for another (R10.5), only TTCĐS changes everything (R7.1).

A change (``base...head``) is within the author's scope when every file it touches, anywhere in
the repository, is a unit file under ``accounts/`` owned by the author at the base revision (its
``owners:``), or the author is an approver (``approvers:`` of ``province.yaml`` at the base).
Everything else — ``province.yaml``, new or deleted unit files, CODEOWNERS, the code (``bin/``,
``module_utils/``, ``library/``, ``filter_plugins/``), ``roles/``, ``playbooks/``,
``inventory/``, the CI files, ``data/``, the docs — is for approvers only. Ownership is read at
the base, so a change cannot grant itself the right to change a file. See docs/security.md.
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


# What each top-level path is, for the refusal message (anything not listed: "a file of the repository").
WHAT = {
    "CODEOWNERS": "the code owners",
    ".github": "the GitHub workflows and settings",
    ".gitlab-ci.yml": "the GitLab pipeline",
    ".gitlab": "the GitLab settings",
    ".govmail": "the audit record's signers",
    "bin": "the CI and operator scripts",
    "module_utils": "the engine",
    "library": "the Ansible modules",
    "filter_plugins": "the Ansible filters",
    "roles": "the server roles",
    "playbooks": "the playbooks",
    "inventory": "the inventories",
    "data": "the reference data",
    "Makefile": "the build",
    "pyproject.toml": "the Python dependencies",
    "molecule": "the server tests",
    "tests": "the tests",
    "docs": "the documentation",
}


def _what(path: str) -> str:
    top = path.split("/", 1)[0]
    return WHAT.get(top, "a file of the repository")


def check_scope(
    git: Git, author: str, base: str, *, head: str = "HEAD", accounts: str = "accounts", teams: tuple[str, ...] = ()
) -> list[Verdict]:
    """A verdict for every file the change touches, anywhere in the repository."""
    merge_base = git.run("merge-base", base, head).strip()
    province = _data(git, merge_base, f"{accounts}/province.yaml") or {}
    me = {author.lstrip("@"), *(t.lstrip("@") for t in teams)}
    approvers = {str(a).lstrip("@") for a in province.get("approvers", [])}
    is_approver = bool(me & approvers)
    out = []
    prefix = accounts.rstrip("/") + "/"
    for status, paths in git.changed(merge_base, head):
        for path in dict.fromkeys(paths):
            if is_approver:
                out.append(Verdict(path, True, f"{author} is an approver"))
                continue
            if not path.startswith(prefix):
                out.append(Verdict(path, False, f"{_what(path)}: only the approvers (TTCĐS) change it"))
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
