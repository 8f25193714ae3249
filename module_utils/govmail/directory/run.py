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
from ..model.filecache import cache_dir
from ..model.mailboxes import support_mailbox
from ..model.problems import InvalidTree, Problem
from ..model.rules import load_valid
from . import mirror
from .converge import DirectoryWriter, Guards, apply
from .delivery import PASSWORD_URL, recipients, send_smtp, write_age
from .layout import Layout
from .ldap_client import Directory
from .plan import plan, summary

REPORT_FORMAT = "govmail-apply/1"


class NotAllocated(InvalidTree):
    """Some entries have no address: the files in Git must carry every address before an apply."""


@dataclass
class Delivery:
    smtp: SmtpChannel | None = None
    age_recipients: list[str] = field(default_factory=list)
    age_dir: str | None = None
    web_url: str = PASSWORD_URL

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
) -> dict:
    """Plan and (unless check_mode) apply. Returns the apply report (never a password in it)."""
    started = _now()
    tree, desired = load_for_apply(accounts_dir)
    wire, layout, current, unmanaged = read_directory(ldap, accounts_dir)
    try:
        changes = plan(desired, current, unmanaged)
        (guards or Guards()).check(changes, current, remove_drift)
        delivery = delivery or Delivery()
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
            )
            if changes:
                mirror.refresh_after_apply(wire, layout, mirror_file(ldap, accounts_dir))
    finally:
        wire.close()
    report["finished"] = _now()
    report["failed"] = sum(1 for c in report["changes"] if c["result"] == "failed")
    if report_path:
        write_report(report_path, report)
    return report


def _apply(report, changes, *, tree, desired, current, wire, layout, ldap, delivery, remove_drift, report_path) -> None:
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
    )
    report["changes"] = [o.as_dict() for o in outcomes] + [
        {**c.as_dict(), "result": "reported", "error": None} for c in changes if c.op == "drift" and not remove_drift
    ]
    report["notified"] = _deliver(issued, tree, desired, have, writer, delivery=delivery, report_path=report_path)


def _deliver(issued, tree, desired, have, writer, *, delivery: Delivery, report_path) -> list[dict]:
    if not issued:
        return []
    # A unit mailbox can receive the message only if it already exists and is active.
    live = {a.address for a in desired if a.status == "active" and have.get(a.address, {}).get("status") == "active"}
    batches = recipients(issued, tree, live)
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
    # A token left pending (not delivered, or this write failing) makes the next run issue a fresh one.
    writer.run(
        [
            (item.account.address, writer.token_request(writer.layout.dn(item.account.address), item.account.reset))
            for item in issued
            if item.account.address in delivered
        ]
    )
    return notified


def followups(report: dict) -> dict[str, list[str]]:
    """What the mail host must do around an apply: archive before revoking, cut sessions after."""
    removing = [
        c["address"]
        for c in report["changes"]
        if c["op"] == "revoke" or (c["op"] == "drift" and c["result"] != "reported")
    ]
    done = [c for c in report["changes"] if c["result"] in ("ok", "planned")]
    kick = sorted({c["address"] for c in done if c["op"] in ("suspend", "reset", "revoke", "drift")})
    return {"revoking": sorted(set(removing)), "kick": kick}


def write_report(path: str, report: dict) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o640)
    os.replace(tmp, target)
