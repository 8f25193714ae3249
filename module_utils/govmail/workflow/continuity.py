"""What a change may not do to addresses already issued: lose them, or bring a revoked one back.

Article 5's allocation never renames anyone and never reissues a revoked address; those promises
span commits, so they are checked against the tree at a base revision (the pull request's target).
"""

from __future__ import annotations

from pathlib import Path

from ..model.addresses import Account, org_structural_accounts
from ..model.names import InvalidName, person_base
from ..model.orgs import Province, Tree
from ..model.problems import Problem
from ..model.tree import PROVINCE_FILE, org_from_source, schema_problems
from ..model.yamlsource import parse
from .gitlog import Git


def _issued(git: Git, rev: str, under: str) -> dict[str, tuple[str, int, str, str, str]]:
    """address → (path, line, name, status, owner) of every person address and alias at ``rev``; the
    owner is the address of the entry holding it (an entry's address never changes)."""
    out = {}
    for path, blob in git.files(rev, under).items():
        if not path.endswith(".yaml") or path.endswith("province.yaml"):
            continue
        src, problems = parse(path, git.blob(blob))
        if problems or not isinstance(src.data, dict):
            continue
        for index, person in enumerate(src.data.get("people") or []):
            if not isinstance(person, dict):
                continue
            name, status = str(person.get("name", "?")), str(person.get("status", "active"))
            line = src.line_of(("people", index))
            owner = person.get("address")
            for address in [owner, *(person.get("aliases") or [])]:
                if isinstance(address, str):
                    out.setdefault(address, (path, line, name, status, str(owner)))
    return out


def _province(git: Git, under: str, files: dict[str, str]) -> Province | None:
    path = f"{under}/{PROVINCE_FILE}" if under not in ("", ".") else PROVINCE_FILE
    if path not in files:
        return None
    src, problems = parse(path, git.blob(files[path]))
    if problems or not isinstance(src.data, dict) or schema_problems(src, "province"):
        return None
    return Province(src.data["domain"], src.data["province_code"], [], [], [], None, src)


def _issued_mailboxes(git: Git, rev: str, under: str) -> dict[str, tuple[str, int, Account]]:
    """address → (path, line, account) of every organisation, commune body and unit mailbox at ``rev``."""
    out = {}
    files = git.files(rev, under)
    province = _province(git, under, files)
    if province is None:
        return out
    for path, blob in files.items():
        if not path.endswith(".yaml") or path.endswith("province.yaml"):
            continue
        src, problems = parse(path, git.blob(blob))
        org = None if problems else org_from_source(src)
        for account in org_structural_accounts(org, province) if org else []:
            out.setdefault(account.address, (path, account.line, account))
    return out


def _mailbox_problems(tree: Tree, base: str, before: dict, people: dict) -> list[Problem]:
    """A unit's, body's or organisation's mailbox issued at ``base`` is still declared as that mailbox
    (a renamed or deleted unit loses it), held by nobody else, and not brought back once revoked."""
    now = {a.address: (org, a) for org in tree.orgs for a in org_structural_accounts(org, tree.province)}
    problems = []
    for address, (path, line, was) in sorted(before.items()):
        what = f"{address} ({was.kind} {was.name})"
        if address in people:
            src, _, _, fpath = people[address]
            problems.append(
                src.problem(fpath, f"{what} was issued at {base}; an issued address is never given to anyone else")
            )
        elif address not in now:
            problems.append(
                Problem(
                    f"{path} (at {base})",
                    line,
                    "id",
                    f"{what} was issued and is gone: a unit's or body's mailbox is its address, so a unit is never"
                    " renamed or deleted; set its status: revoked and declare the new unit beside it",
                )
            )
        elif was.status == "revoked" and now[address][1].status != "revoked":
            org, account = now[address]
            problems.append(
                Problem(
                    org.file,
                    account.line,
                    "status",
                    f"{address} was revoked at {base}; a revoked address is never brought back",
                )
            )
    return problems


def _article5_base(person) -> str | None:
    """The base R5.2 builds ``person``'s addresses from; None when the name has none (the rules say why)."""
    try:
        return person_base(person.name, person.given_name)
    except InvalidName:
        return None


def _of_the_form(address: str, base: str, org_id: str, domain: str) -> bool:
    """R5.2's candidates: ``base@``, ``base.<org>@`` and ``base<N>.<org>@`` (N ≥ 2)."""
    local, _, at = address.partition("@")
    if at != domain:
        return False
    if local == base:
        return True
    stem, dot, suffix = local.rpartition(".")
    number = stem[len(base) :]
    return bool(dot) and suffix == org_id and stem.startswith(base) and (number == "" or number.isdigit())


def _new_claims(tree: Tree, before: dict, now: dict) -> list[Problem]:
    """Squatting: an address or alias a change adds must have the Article 5 form of its holder in the
    writing unit, or be in the list the approvers keep (province.yaml ``approved_addresses``)."""
    approved = set(tree.province.approved_addresses)
    problems = []
    for address, (src, person, org, fpath) in sorted(now.items()):
        if address in before or address in approved:
            continue
        base = _article5_base(person)
        if base is None:
            continue
        if not _of_the_form(address, base, org.id, tree.province.domain):
            problems.append(
                src.problem(
                    fpath,
                    f"{address} is not an Article 5 address of {person.name} in {org.id} (R5.2: {base}@,"
                    f" {base}.{org.id}@, {base}2.{org.id}@ …); another body's or unit's address needs the"
                    " approvers (province.yaml approved_addresses)",
                )
            )
    return problems


def check_against(tree: Tree, base: str) -> list[Problem]:
    """Problems of ``tree`` (the working copy) relative to the revision ``base``."""
    root = Path(tree.root).resolve()
    top = Path(Git(root).run("rev-parse", "--show-toplevel").strip())
    git = Git(top)  # paths in ls-tree and show are relative to the top of the work tree
    under = root.relative_to(top).as_posix()
    merge_base = git.run("merge-base", base, "HEAD").strip()
    before = _issued(git, merge_base, under)
    mailboxes = _issued_mailboxes(git, merge_base, under)
    now: dict[str, tuple] = {}
    for org in tree.orgs:
        for person in org.people:
            if person.address:
                now[person.address] = (org.source, person, org, (*person.fpath, "address"))
            for index, alias in enumerate(person.aliases):
                now.setdefault(alias, (org.source, person, org, (*person.fpath, "aliases", index)))
    problems = []
    for address, (path, line, name, status, owner) in sorted(before.items()):
        where = f"{path} (at {base})"
        if address not in now:
            problems.append(
                Problem(
                    where,
                    line,
                    "address",
                    f"{address} ({name}) was issued and is gone: entries are never deleted and addresses never"
                    " change (set status: revoked; keep an old address under aliases)",
                )
            )
            continue
        src, person, _, fpath = now[address]
        if owner not in (person.address, *person.aliases):  # the same entry keeps its first address
            # Issued to one entry, now held by another (as its address or an alias): never reused.
            problems.append(
                src.problem(
                    fpath,
                    f"{address} was issued to {name} ({owner}) at {base}; an issued address is never given to"
                    " anyone else",
                )
            )
        elif status == "revoked" and person.status != "revoked":
            problems.append(
                src.problem(
                    (*person.fpath, "status"),
                    f"{address} was revoked at {base}; a revoked address is never brought back",
                )
            )
    return problems + _new_claims(tree, before, now) + _mailbox_problems(tree, base, mailboxes, now)
