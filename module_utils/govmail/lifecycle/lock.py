"""The emergency lock of R8.2b: a stolen password, an account sending spam.

``lock`` acts at once on the directory — state ``suspended`` with the reason and today's date, and
a new random password that nobody knows, which also leaves a reset pending (``pwdReset``) — then
cuts the account's sessions on the mail host, and writes the same suspension into the account file
as a commit, so Git catches up immediately and the next normal apply keeps the lock (its plan is
empty for the account). Unlocking is the normal request: ``govmail request restore`` together with
``govmail request reset`` (the holder gets a fresh initial password through the unit).

Everything is checked before anything is written: an unknown or revoked address, a bad reason,
a tree that does not validate, a directory entry that is missing — each is an error, and then
neither the directory nor the files are touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..directory import failover
from ..directory.layout import Layout, since_to_ldap
from ..directory.ldap_client import REPLACE, LdapError, connect
from ..model.passwords import generate
from ..workflow.gitlog import Git, GitError
from ..workflow.requests import RequestError, Session, find_person, op_status

TRAILER = "Govmail-Lock"


class LockError(ValueError):
    """The lock could not be carried out; the message says how far it got."""


@dataclass
class LockResult:
    address: str
    reason: str
    since: str
    directory: bool = False
    kicked: list[str] = field(default_factory=list)
    kick_error: str | None = None
    files: list[str] = field(default_factory=list)
    commit: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def kick(address: str, doveadm: list[str]) -> tuple[bool, str | None]:
    """Forget cached logins and cut every session of ``address`` (``doveadm`` may be a remote prefix)."""
    try:
        subprocess.run([*doveadm, "auth", "cache", "flush", address], capture_output=True, check=False, timeout=60)
        result = subprocess.run([*doveadm, "kick", address], capture_output=True, text=True, check=False, timeout=60)
    except OSError as exc:
        return False, f"cannot run {' '.join(doveadm)}: {exc}"
    # doveadm kick exits 68 (EX_NOUSER-like "nobody to kick") when no session was open.
    if result.returncode not in (0, 68):
        return False, (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
    return result.returncode == 0, None


def lock(
    accounts_dir: str | Path,
    ldap: dict,
    address: str,
    *,
    reason: str = "compromised",
    reason_more: str | None = None,
    today: dt.date | None = None,
    doveadm: list[str] | None = None,
    commit: bool = True,
) -> LockResult:
    today = today or dt.date.today()
    accounts_dir = Path(accounts_dir)
    session = Session(accounts_dir)
    _, person = find_person(session.tree, address=address)
    if person.status == "revoked":
        raise RequestError(f"{person.address} is revoked; there is nothing to lock")
    if person.status == "active":
        op_status(session, kind="suspend", who={"address": person.address}, reason=reason, reason_more=reason_more,
                  date=today)  # fmt: skip
    _, locked = find_person(session.tree, address=person.address)
    outcome = session.commit(write=False)  # validates the edited tree; writes nothing yet
    git = None
    if commit:
        git = Git(accounts_dir)
        git.run("rev-parse", "--show-toplevel")  # a repository, or a GitError now, before any write

    layout = Layout(ldap["base_dn"])
    dn = layout.dn(locked.address)
    with connect(**failover.healthy(ldap)) as directory:  # the first provider that answers
        try:
            entry = directory.read(dn, ["govmailState"], "(objectClass=govmailAccount)")
        except LdapError as exc:
            raise LockError(f"cannot read the entry of {locked.address}: {exc}; nothing was written") from exc
        if entry is None:
            raise LockError(f"{locked.address} has no live entry in the directory ({dn}); nothing was written")
        changes = {
            "govmailState": (REPLACE, ["suspended"]),
            "govmailReason": (REPLACE, [locked.reason]),
            "govmailStateSince": (REPLACE, [since_to_ldap(locked.since)]),
            # A password nobody knows: the old one, stolen or not, stops working now.
            "userPassword": (REPLACE, [generate(32) + secrets.token_urlsafe(8)]),
        }
        try:
            directory.modify(dn, changes)
        except LdapError as exc:
            raise LockError(f"the directory refused the lock of {locked.address}: {exc}") from exc
        # ppolicy marks a password set by the provisioner as to be changed; say so explicitly too.
        with contextlib.suppress(LdapError):
            directory.modify(dn, {"pwdReset": (REPLACE, ["TRUE"])})
    result = LockResult(locked.address, locked.reason or "", locked.since or today.isoformat(), directory=True)

    if doveadm:
        kicked, error = kick(locked.address, doveadm)
        result.kicked = [locked.address] if kicked else []
        result.kick_error = error

    outcome = session.commit(write=True)
    result.files = [str(Path(f).resolve()) for f in outcome.files]
    if commit and result.files and git is not None:
        message = (
            f"lock: {locked.address} ({locked.reason})\n\n"
            f"Emergency lock (R8.2b) by `govmail lock`: the directory was locked first (state suspended,\n"
            f"password replaced by one nobody knows, reset pending) and its sessions cut; this commit\n"
            f"records the same suspension so the next apply keeps it. Unlock: govmail request restore + reset.\n\n"
            f"{TRAILER}: {locked.address}"
        )
        try:
            git.run("add", "--", *result.files)
            git.run("-c", "user.name=govmail lock", "-c", "user.email=govmail-lock@localhost", "commit", "--quiet",
                    "-m", message, "--", *result.files)  # fmt: skip
            result.commit = git.rev("HEAD")
        except GitError as exc:
            raise LockError(
                f"{locked.address} is locked in the directory and the file is written, but the commit failed: {exc}. "
                "Commit the file by hand now"
            ) from exc
    return result
