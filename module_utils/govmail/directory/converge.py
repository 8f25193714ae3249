"""Apply a plan to the directory: guards first, then every change, one entry's failure isolated from the rest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..model import passwords
from ..model.addresses import Account
from .layout import OBJECT_CLASSES, Layout, entry_attributes, new_entry
from .ldap_client import ADD_VALUES, REPLACE, Directory, describe
from .plan import UNDELIVERED, Change, pending_token

REMOVING = ("revoke", "drift")


class GuardTripped(Exception):
    """The plan removes more than the configured limits; nothing was written."""


@dataclass
class Guards:
    """peribolos' --maximum-removal-delta, per unit and in total."""

    max_removals: int = 10
    max_removal_share: float = 0.25
    override: bool = False

    def check(self, changes: list[Change], current: list[dict], remove_drift: bool) -> None:
        if self.override:
            return
        removing = [c for c in changes if c.op == "revoke" or (c.op == "drift" and remove_drift)]
        problems = []
        if len(removing) > self.max_removals:
            problems.append(f"{len(removing)} accounts would be revoked or removed (limit {self.max_removals})")
        live = Counter(a.get("org") for a in current if a.get("status") != "revoked")
        for org, count in sorted(Counter(c.org for c in removing).items(), key=lambda kv: str(kv[0])):
            total = live.get(org, 0)
            # A unit with one or two accounts may lose them; the share limit protects larger units.
            if count > 2 and total and count / total > self.max_removal_share:
                problems.append(
                    f"{org}: {count} of its {total} accounts would go"
                    f" ({count / total:.0%} > {self.max_removal_share:.0%})"
                )
        if problems:
            raise GuardTripped(
                "removal guard: " + "; ".join(problems) + ". Nothing was written; check the plan, then rerun with "
                "the override (allow_large_removals / --allow-large-removals) if it is intended."
            )


@dataclass
class Outcome:
    change: Change
    ok: bool
    error: str | None = None

    def as_dict(self) -> dict:
        return {**self.change.as_dict(), "result": "ok" if self.ok else "failed", "error": self.error}


@dataclass
class Issued:
    """A password that must reach its unit: held in memory only, never returned or logged."""

    account: Account
    password: str = field(repr=False)
    token: str = UNDELIVERED  # the pending token the entry carries until delivery is confirmed


class DirectoryWriter:
    """The write operations, on one python-ldap connection (``ldap_client.Directory``): single-request
    changes pipelined in one batch, multi-step ones (adopt, revoke) one request after the other."""

    def __init__(self, directory: Directory, layout: Layout):
        self.directory = directory
        self.layout = layout

    # -- single requests, pipelined -------------------------------------------------------
    @staticmethod
    def create_request(
        dn: str, account: Account, password: str, token: str = UNDELIVERED, mail_host: str | None = None
    ) -> tuple[str, tuple]:
        attrs = {"objectClass": OBJECT_CLASSES, **new_entry(account)}
        attrs.update(userPassword=[password], pwdReset=["TRUE"], govmailResetToken=[token])
        if mail_host:
            attrs["govmailMailHost"] = [mail_host]
        return dn, ("add", dn, attrs)

    @staticmethod
    def place_request(dn: str, mail_host: str) -> tuple[str, tuple]:
        """Give an entry its mail backend (only ever one that has none: moving is playbooks/move.yml)."""
        return dn, ("modify", dn, {"govmailMailHost": (REPLACE, [mail_host])})

    @staticmethod
    def update_request(dn: str, account: Account) -> tuple[str, tuple]:
        return dn, ("modify", dn, {k: (REPLACE, v) for k, v in entry_attributes(account).items()})

    @staticmethod
    def reset_request(dn: str, password: str, token: str = UNDELIVERED) -> tuple[str, tuple]:
        changes = {"userPassword": (REPLACE, [password]), "pwdReset": (REPLACE, ["TRUE"])}
        changes["govmailResetToken"] = (REPLACE, [token])
        return dn, ("modify", dn, changes)

    @staticmethod
    def token_request(dn: str, token: str | None) -> tuple[str, tuple]:
        return dn, ("modify", dn, {"govmailResetToken": (REPLACE, [token] if token else [])})

    def run(self, requests: list[tuple[object, tuple[str, tuple]]]) -> dict[object, str | None]:
        """key → None when applied, else the reason. Every key gets an answer, even if the server dies."""
        answers: dict[object, str | None] = {}
        dns = {key: dn for key, (dn, _) in requests}
        try:
            for key, error in self.directory.run((key, request) for key, (_, request) in requests):
                answers[key] = None if error is None else f"{dns[key]}: {error}"
        except Exception as exc:
            for key, _ in requests:
                answers.setdefault(key, f"the directory connection failed: {describe(exc)}")
        return answers

    @staticmethod
    def _do(what: str, func, *args, **kwargs) -> None:
        try:
            func(*args, **kwargs)
        except Exception as exc:
            raise RuntimeError(f"{what}: {describe(exc)}") from exc

    def adopt(self, account: Account, dn: str) -> None:
        """Take over an existing entry in place: it keeps its password and moves into ou=accounts.
        A password whose age is unknown (no pwdChangedTime) must be changed at the next sign-in.

        Mark it first, rename it second (the old RDN value may be a ``cn`` about to change),
        then write every attribute as for any update.
        """
        found: list[dict] = []
        self._do(f"adopt {dn}", lambda: found.append(self.directory.read(dn, ["objectClass", "pwdChangedTime"])))
        found = [attrs for attrs in found if attrs is not None]
        classes = {c.lower() for attrs in found for c in attrs.get("objectClass", [])}
        mark = {
            "govmailManaged": (REPLACE, ["TRUE"]),
            "govmailState": (REPLACE, [account.status]),
            "uid": (REPLACE, [account.address.split("@", 1)[0]]),
        }
        if found and not any(attrs.get("pwdChangedTime") for attrs in found):
            # A password of unknown age would never expire (ppolicy ages from pwdChangedTime): it
            # keeps working for the first sign-in, which must change it (R6.1; the plan says so).
            mark["pwdReset"] = (REPLACE, ["TRUE"])
        if "govmailaccount" not in classes:  # a rerun after a half-done adoption finds it marked already
            mark["objectClass"] = (ADD_VALUES, ["govmailAccount"])
        self._do(f"adopt {dn}", self.directory.modify, dn, mark)
        target = self.layout.dn(account.address)
        if dn.lower() != target.lower():
            rdn = target.split(",", 1)[0]
            self._do(
                f"move {dn} into {self.layout.accounts_dn}",
                self.directory.rename, dn, rdn, self.layout.accounts_dn, delete_old_rdn=False,
            )  # fmt: skip
        self.update(account, target)

    def update(self, account: Account, dn: str) -> None:
        attrs = entry_attributes(account)
        self._do(f"modify {dn}", self.directory.modify, dn, {k: (REPLACE, v) for k, v in attrs.items()})

    def revoke(self, account: Account, dn: str) -> None:
        self.update(account, dn)
        target = self.layout.dn(account.address, revoked=True)
        if dn.lower() != target.lower():
            rdn, _, _ = dn.partition(",")
            self._do(f"move {dn} to ou=revoked", self.directory.rename, dn, rdn, self.layout.revoked_dn)


INFO_OPS = ("update", "move", "suspend", "restore")


def apply(
    changes: list[Change],
    desired: dict[str, Account],
    current: dict[str, dict],
    writer: DirectoryWriter,
    *,
    archives: dict[str, dict],
    remove_drift: bool = False,
    new_password: Callable[[], str] | None = None,
    hosts: dict[str, str] | None = None,
) -> tuple[list[Outcome], list[Issued]]:
    """Carry out every change. A refused change is recorded and the others go on.

    Single-request changes are sent pipelined in one batch; an account's attribute changes
    (update, move, suspend, restore) share one modify, since each writes the whole desired set.
    Adoptions and revocations (several requests each) follow, one by one. ``hosts`` maps the
    addresses given a mail backend by this run (directory/placement.py) to it.
    """
    hosts = hosts or {}
    new_password = new_password or passwords.generate
    batch: list[tuple[int, tuple[str, tuple]]] = []
    passwords_by_index: dict[int, Issued] = {}
    carrier: dict[int, int] = {}  # change index → index of the request that carries it
    info_request: dict[str, int] = {}
    sequential: list[int] = []
    # A revoke is atomic: the revoked account's other changes are written by the revoke itself, after its
    # archive is verified. A separate update would write govmailState=revoked (the desired state) at once.
    revoking = {c.address: i for i, c in enumerate(changes) if c.op == "revoke"}
    for index, change in enumerate(changes):
        account = desired.get(change.address)
        cur = current.get(change.address)
        dn = cur["dn"] if cur else writer.layout.dn(change.address)
        if change.op == "create":
            password, token = new_password(), pending_token()
            batch.append((index, writer.create_request(dn, account, password, token, hosts.get(change.address))))
            passwords_by_index[index] = Issued(account, password, token)
        elif change.op == "reset":
            password, token = new_password(), pending_token()
            batch.append((index, writer.reset_request(dn, password, token)))
            passwords_by_index[index] = Issued(account, password, token)
        elif change.op == "place":
            batch.append((index, writer.place_request(dn, hosts[change.address])))
        elif change.op in INFO_OPS:
            if change.address in revoking:
                carrier[index] = revoking[change.address]
                continue
            if change.address not in info_request:
                info_request[change.address] = index
                batch.append((index, writer.update_request(dn, account)))
            carrier[index] = info_request[change.address]
            continue
        elif change.op == "drift" and not remove_drift:
            continue  # reported, never touched without remove_drift
        else:
            sequential.append(index)
            continue
        carrier[index] = index
    answers = writer.run(batch)
    errors: dict[int, str | None] = {}
    for index in sequential:
        errors[index] = _multi_step(changes[index], desired, current, writer, archives, hosts=hosts)
    for index, via in carrier.items():
        errors[index] = answers[via] if via in answers else errors[via]
    outcomes = [Outcome(changes[i], errors[i] is None, errors[i]) for i in sorted(errors)]
    issued = [item for i, item in passwords_by_index.items() if errors[i] is None]
    return outcomes, issued


def _multi_step(change: Change, desired, current, writer: DirectoryWriter, archives, *, hosts=None) -> str | None:
    """Adopt or revoke one entry; the reason when it fails."""
    account = desired.get(change.address)
    cur = current.get(change.address)
    dn = cur["dn"] if cur else writer.layout.dn(change.address)
    try:
        if change.op == "adopt":
            writer.adopt(account, change.changes["dn"][0])
            if (hosts or {}).get(change.address):
                dn, request = writer.place_request(writer.layout.dn(change.address), hosts[change.address])
                writer._do(f"place {dn}", writer.directory.modify, dn, request[2])
        else:  # revoke, or drift being removed
            archive = archives.get(change.address)
            if not (archive and archive.get("verified")):
                raise RuntimeError("no verified mailbox archive for this address: nothing was revoked")
            writer.revoke(account or _revoked_placeholder(cur), dn)
    except Exception as exc:  # one refused entry must not stop the others
        return str(exc)
    return None


def _revoked_placeholder(cur: dict) -> Account:
    """An undeclared (drift) entry being removed keeps what it had, with state revoked."""
    keys = ("address", "kind", "org", "unit", "name", "title", "aliases")
    return Account(**{k: cur.get(k) for k in keys}, status="revoked", reason="other: removed as drift")
