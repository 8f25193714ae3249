"""One convergence run: files → plan → guards → writes → password delivery → apply report.

Everything the Ansible module and the CLI share; neither holds logic of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..mailhost.smtp import SmtpChannel
from ..model.addresses import accounts, allocate
from ..model.filecache import bulk, cache_dir
from ..model.mailboxes import support_mailbox
from ..model.problems import InvalidTree, Problem
from ..model.rules import load_valid
from . import failover, mirror, placement
from .converge import DirectoryWriter, Guards, apply
from .delivery import PASSWORD_URL, readable, recipients, resend, send_smtp, waiting_for_unit, write_age
from .layout import Layout
from .ldap_client import Directory
from .plan import VIA_SUPPORT, is_pending, order_key, plan, summary

REPORT_FORMAT = "govmail-apply/1"


class NotAllocated(InvalidTree):
    """Some entries have no address: the files in Git must carry every address before an apply."""


@dataclass
class Delivery:
    smtp: SmtpChannel | None = None
    age_recipients: list[str] = field(default_factory=list)
    age_dir: str | None = None
    web_url: str = PASSWORD_URL
    # Which pending tokens a channel took (JSON lines, no password): a rerun after a crash between
    # delivery and clearing the tokens recognises them instead of issuing new passwords.
    record_path: str | None = None

    def record(self, report_path: str | None) -> Path | None:
        if self.record_path:
            return Path(self.record_path)
        return Path(report_path).parent / "delivered.jsonl" if report_path else None

    @property
    def configured(self) -> bool:
        return bool(self.smtp or self.age_recipients)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_for_apply(accounts_dir: str):
    """The valid tree and its accounts; refuses a tree with unallocated entries."""
    tree = load_valid(accounts_dir)
    pending = allocate(tree)
    if pending:
        raise NotAllocated(
            [
                Problem(
                    org.source.path, org.source.line_of(person.fpath), "address", "no address yet: run govmail allocate"
                )
                for org, person, _ in pending
            ]
        )
    return tree, accounts(tree, [])


def read_directory(ldap: dict, accounts_dir: str | None = None) -> tuple[Directory, Layout, list[dict], dict[str, str]]:
    """One connection; the managed entries, and the addresses held by entries not managed yet.

    With ``accounts_dir``, the copy of the directory kept in its file cache is brought up to date
    (RFC 4533, ``directory/mirror.py``) instead of reading every entry again.
    """
    directory = Directory.open(ldap)
    layout = Layout(ldap["base_dn"])
    try:
        current, unmanaged, _ = mirror.read(directory, layout, mirror_file(ldap, accounts_dir))
    except BaseException:
        directory.close()
        raise
    return directory, layout, current, unmanaged


def mirror_file(ldap: dict, accounts_dir: str | None):
    """Where the copy of this directory is kept (None: no file cache)."""
    where = cache_dir(accounts_dir) if accounts_dir else None
    return mirror.mirror_path(where, ldap) if where else None


def converge(
    accounts_dir: str,
    ldap: dict,
    *,
    check_mode: bool = False,
    archives: list[dict] | None = None,
    guards: Guards | None = None,
    remove_drift: bool = False,
    delivery: Delivery | None = None,
    commit: str | None = None,
    report_path: str | None = None,
    mail_backends: list[str] | None = None,
) -> dict:
    """Plan and (unless check_mode) apply. Returns the apply report (never a password in it).

    ``mail_backends``: the host names of the mail backends, in the inventory's order; every live
    mailbox without one is assigned one (directory/placement.py). None or empty: one mail host."""
    backends = placement.check_backends(mail_backends or [])
    with bulk():
        return _converge(
            accounts_dir, ldap, check_mode=check_mode, archives=archives, guards=guards, remove_drift=remove_drift,
            delivery=delivery, commit=commit, report_path=report_path, backends=backends,
        )  # fmt: skip


def _converge(
    accounts_dir, ldap, *, check_mode, archives, guards, remove_drift, delivery, commit, report_path, backends
) -> dict:
    started = _now()
    tree, desired = load_for_apply(accounts_dir)
    delivery = delivery or Delivery()
    ldap = failover.healthy(ldap)  # the first provider that answers (several with replication)
    wire, layout, current, unmanaged = read_directory(ldap, accounts_dir)
    try:
        recovered, recovery_errors = _recover(
            current, desired, delivery.record(report_path), wire=wire, layout=layout, check_mode=check_mode
        )
        reused = reuse_problems(desired, current)
        if reused:
            raise InvalidTree(reused)
        changes = plan(desired, current, unmanaged)
        changes = sorted(changes + resend(tree, desired, current, changes), key=order_key)
        changes, hosts = placement.assign(changes, current, backends)
        (guards or Guards()).check(changes, current, remove_drift)
        needs_passwords = any(c.op in ("create", "reset") for c in changes)
        if needs_passwords and not check_mode and not delivery.configured:
            raise ValueError(
                "the plan issues passwords but no delivery channel (smtp or age) is configured; nothing was written"
            )
        report = {
            "format": REPORT_FORMAT,
            "commit": commit,
            "started": started,
            "check_mode": check_mode,
            "accounts_dir": accounts_dir,
            "directory": ldap.get("server_uri"),
            "summary": summary(changes),
            "archives": [a for a in (archives or []) if a.get("address")],
            "notified": [],
            "recovered": recovered,
            "token_errors": recovery_errors,
            # Which backend holds each mailbox the run revokes (several backends: it archives them).
            "mail_hosts": {
                c.address: have_host
                for c in changes
                if c.op in ("revoke", "drift") and (have_host := _host_of(current, c.address))
            },
        }
        if check_mode:
            report["changes"] = [
                {
                    **c.as_dict(),
                    "result": "reported" if c.op == "drift" and not remove_drift else "planned",
                    "error": None,
                }
                for c in changes
            ]
        else:
            _apply(
                report,
                changes,
                tree=tree,
                desired=desired,
                current=current,
                wire=wire,
                layout=layout,
                ldap=ldap,
                delivery=delivery,
                remove_drift=remove_drift,
                report_path=report_path,
                hosts=hosts,
            )
        if not check_mode and (changes or recovered):  # this run wrote: bring the saved copy up to date
            mirror.refresh_after_apply(wire, layout, mirror_file(ldap, accounts_dir))
    finally:
        wire.close()
    report["finished"] = _now()
    # Every write counts: a pending token that could not be cleared fails the run like a refused change.
    report["failed"] = sum(1 for c in report["changes"] if c["result"] == "failed") + len(report["token_errors"])
    if report_path:
        write_report(report_path, report)
    return report


def _host_of(current: list[dict], address: str) -> str | None:
    return next((e.get("mail_host") for e in current if e["address"] == address), None)


def reuse_problems(desired, current: list[dict]) -> list[Problem]:
    """The directory's own memory of issued addresses: an address or alias held by another entry there,
    revoked ones included, is never given to someone else (Postfix would route it, and let them send as it)."""
    held: dict[str, str] = {}
    for entry in current:
        for address in [entry["address"], *(entry.get("aliases") or [])]:
            held.setdefault(address, entry["address"])
    problems = []
    for account in desired:
        for field_name, address in [("address", account.address)] + [("aliases", a) for a in account.aliases]:
            owner = held.get(address)
            if owner and owner != account.address:
                problems.append(
                    Problem(
                        account.file or "?",
                        account.line or 0,
                        field_name,
                        f"{address} is held in the directory by {owner}; an issued address is never reused",
                    )
                )
    return problems


def _apply(
    report, changes, *, tree, desired, current, wire, layout, ldap, delivery, remove_drift, report_path, hosts
) -> None:
    """Write the plan, deliver the passwords; fills the report's changes and notified."""
    by_address = {a.address: a for a in desired}
    have = {a["address"]: a for a in current}
    writer = DirectoryWriter(wire, layout)
    outcomes, issued = apply(
        changes,
        by_address,
        have,
        writer,
        archives={a["address"]: a for a in report["archives"]},
        remove_drift=remove_drift,
        hosts=hosts,
    )
    report["changes"] = [o.as_dict() for o in outcomes] + [
        {**c.as_dict(), "result": "reported", "error": None} for c in changes if c.op == "drift" and not remove_drift
    ]
    report["notified"], errors = _deliver(
        issued, tree, desired, have, writer, delivery=delivery, report_path=report_path
    )
    report["token_errors"] += errors


def _deliver(issued, tree, desired, have, writer, *, delivery: Delivery, report_path) -> tuple[list[dict], list[str]]:
    """Send the passwords; record which pending tokens were delivered; then clear those tokens.

    Returns what was sent where, and the token writes that failed (they fail the run).
    """
    if not issued:
        return [], []
    # A unit mailbox receives the message only if somebody can read it: active, own password changed.
    batches = recipients(issued, tree, readable(desired, have))
    marked = waiting_for_unit(issued, tree, batches)
    sender = delivery.smtp.sender if delivery.smtp and delivery.smtp.sender else support_mailbox(tree)
    notified, delivered = [], set()
    if delivery.smtp:
        for to, error in send_smtp(delivery.smtp, batches, sender, delivery.web_url).items():
            addresses = [i.account.address for i in batches[to]]
            notified.append({"channel": "smtp", "to": to, "accounts": addresses, "error": error})
            if error is None:
                delivered.update(addresses)
    if delivery.age_recipients:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = Path(delivery.age_dir or (Path(report_path).parent if report_path else "."))
        path = folder / f"initial-passwords-{stamp}.txt.age"
        addresses = [i.account.address for i in issued]
        try:
            write_age(path, delivery.age_recipients, batches, delivery.web_url)
            notified.append({"channel": "age", "to": str(path), "accounts": addresses, "error": None})
            delivered.update(addresses)
        except Exception as exc:  # a failed channel leaves the token pending: the next run re-issues
            notified.append({"channel": "age", "to": str(path), "accounts": addresses, "error": str(exc)})
    # The record first: if the directory dies before the tokens are cleared, the next run reads it and
    # clears them instead of issuing fresh passwords (which would void the ones the units hold).
    done = [item for item in issued if item.account.address in delivered]
    _append_record(delivery.record(report_path), done, marked)
    # A token left pending (not delivered) makes the next run issue a fresh one.
    answers = writer.run(
        [
            (
                item.account.address,
                writer.token_request(
                    writer.layout.dn(item.account.address),
                    VIA_SUPPORT + (item.account.reset or "") if item.account.address in marked else item.account.reset,
                ),
            )
            for item in done
        ]
    )
    return notified, [f"clear the pending token of {key}: {error}" for key, error in answers.items() if error]


def _append_record(path: Path | None, done, marked: set[str] = frozenset()) -> None:
    if path is None or not done:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    at = _now()
    lines = "".join(
        json.dumps(
            {"address": i.account.address, "token": i.token, "at": at, "via_support": i.account.address in marked}
        )
        + "\n"
        for i in done
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, lines.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_record(path: Path | None) -> dict[tuple[str, str], bool]:
    """(address, pending token) of every delivery the record confirms → whether it went to the support
    mailbox only because the unit mailbox could not be read yet (docs/passwords.md)."""
    if path is None or not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
            out[(str(item["address"]), str(item["token"]))] = bool(item.get("via_support"))
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line after a crash: that delivery is not confirmed
    return out


def _recover(current, desired, record: Path | None, *, wire, layout, check_mode) -> tuple[list[str], list[str]]:
    """Clear the pending tokens whose passwords the record shows delivered (a crash came between).

    ``current`` is updated in place so the plan sees them cleared; returns (recovered, failed writes).
    """
    delivered = _read_record(record)
    if not delivered:
        return [], []
    want = {a.address: a.reset for a in desired}
    found = [c for c in current if is_pending(c.get("reset")) and (c["address"], c["reset"]) in delivered]
    if not found:
        return [], []
    final = {  # the token the delivery would have written, the via-support mark included
        c["address"]: (VIA_SUPPORT + (want.get(c["address"]) or ""))
        if delivered[(c["address"], c["reset"])]
        else want.get(c["address"])
        for c in found
    }
    errors: dict[str, str | None] = {}
    if not check_mode:
        writer = DirectoryWriter(wire, layout)
        errors = writer.run([(c["address"], writer.token_request(c["dn"], final[c["address"]])) for c in found])
    for c in found:
        if not errors.get(c["address"]):
            c["reset"] = final[c["address"]]
    failed = [f"clear the delivered token of {a}: {e}" for a, e in errors.items() if e]
    return sorted(c["address"] for c in found if not errors.get(c["address"])), failed


def followups(report: dict) -> dict[str, list[str]]:
    """What the mail host must do around an apply: archive before revoking, cut sessions after."""
    removing = [
        c["address"]
        for c in report["changes"]
        if c["op"] == "revoke" or (c["op"] == "drift" and c["result"] != "reported")
    ]
    done = [c for c in report["changes"] if c["result"] in ("ok", "planned")]
    kick = sorted({c["address"] for c in done if c["op"] in ("suspend", "reset", "revoke", "drift")})
    # Several backends: each archives the mailboxes it holds (a mailbox without one: every host tries).
    hosts = report.get("mail_hosts") or {}
    revoking_on: dict[str, list[str]] = {}
    for address in sorted(set(removing)):
        revoking_on.setdefault(hosts.get(address, "*"), []).append(address)
    return {"revoking": sorted(set(removing)), "revoking_on": revoking_on, "kick": kick}


def write_report(path: str, report: dict) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o640)
    os.replace(tmp, target)
