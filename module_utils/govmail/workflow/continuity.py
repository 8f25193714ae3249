"""What a change may not do to addresses already issued: lose them, or bring a revoked one back.

Article 5's allocation never renames anyone and never reissues a revoked address; those promises
span commits, so they are checked against the tree at a base revision (the pull request's target).
"""

from __future__ import annotations

from pathlib import Path

from ..model.addresses import Account, org_structural_accounts
from ..model.orgs import Province, Tree
from ..model.problems import Problem
from ..model.tree import PROVINCE_FILE, org_from_source, schema_problems
from ..model.yamlsource import parse
from .gitlog import Git


def _province(git: Git, rev: str, under: str, files: dict[str, str]) -> Province | None:
    path = f"{under}/{PROVINCE_FILE}" if under not in ("", ".") else PROVINCE_FILE
    if path not in files:
        return None
    src, problems = parse(path, git.blob(files[path]))
    if problems or not isinstance(src.data, dict) or schema_problems(src, "province"):
        return None
    data = src.data
    return Province(data["domain"], data["province_code"], [], [], [], None, src)


def _issued(git: Git, rev: str, under: str) -> dict[str, tuple[str, int, str, str]]:
    """address → (path, line, name, status) of every address issued at ``rev``: people's addresses and
    aliases, and the mailboxes of organisations, commune bodies and units."""
    out = {}
    files = git.files(rev, under)
    province = _province(git, rev, under, files)
    for path, blob in files.items():
        if not path.endswith(".yaml") or path.endswith("province.yaml"):
            continue
        src, problems = parse(path, git.blob(blob))
        if problems or not isinstance(src.data, dict):
            continue
        org = org_from_source(src) if province else None
        for account in org_structural_accounts(org, province) if org else []:
            out.setdefault(account.address, (path, account.line, f"{account.kind} {account.name}", account.status))
        for index, person in enumerate(src.data.get("people") or []):
            if not isinstance(person, dict):
                continue
            name, status = str(person.get("name", "?")), str(person.get("status", "active"))
            line = src.line_of(("people", index))
            for address in [person.get("address"), *(person.get("aliases") or [])]:
                if isinstance(address, str):
                    out.setdefault(address, (path, line, name, status))
    return out


def status_kind(name: str) -> str:
    """``_issued`` names structural accounts ``<kind> <name>``; people by their name alone."""
    first = name.split(" ", 1)[0]
    return first if first in ("org", "body", "unit") else "person"


def check_against(tree: Tree, base: str) -> list[Problem]:
    """Problems of ``tree`` (the working copy) relative to the revision ``base``."""
    root = Path(tree.root).resolve()
    top = Path(Git(root).run("rev-parse", "--show-toplevel").strip())
    git = Git(top)  # paths in ls-tree and show are relative to the top of the work tree
    under = root.relative_to(top).as_posix()
    merge_base = git.run("merge-base", base, "HEAD").strip()
    before = _issued(git, merge_base, under)
    now: dict[str, tuple] = {}
    for org in tree.orgs:
        for account in org_structural_accounts(org, tree.province):
            now[account.address] = (org.source, account)
        for person in org.people:
            for address in [person.address, *person.aliases]:
                if address:
                    now[address] = (org.source, person)
    problems = []
    for address, (path, line, name, status) in sorted(before.items()):
        where = f"{path} (at {base})"
        if address not in now:
            problems.append(
                Problem(
                    where,
                    line,
                    "address",
                    f"{address} ({name}) was issued and is gone: entries are never deleted and addresses never"
                    + (
                        " change (set status: revoked; keep an old address under aliases)"
                        if status_kind(name) == "person"
                        else " change (a unit's or body's mailbox is its address: set its status: revoked and declare"
                        " a renamed unit beside it under its new id)"
                    ),
                )
            )
        elif status == "revoked":
            src, person = now[address]
            if isinstance(person, Account):
                if person.status != "revoked":
                    problems.append(
                        Problem(
                            src.path,
                            person.line,
                            "status",
                            f"{address} was revoked at {base}; a revoked address is never brought back",
                        )
                    )
            elif person.address == address and person.status != "revoked":
                problems.append(
                    src.problem(
                        (*person.fpath, "status"),
                        f"{address} was revoked at {base}; a revoked address is never brought back",
                    )
                )
    return problems
