"""Delivering initial passwords the way the regulation's step-4 reply goes (R7.2b): to the unit's own mailbox.

Channels (docs/passwords.md has the threat model):
- ``smtp``: one message per receiving mailbox, through the province's own mail server;
- ``age``: one file encrypted to the operator's age public key(s), for the operator's records.
A password counts as delivered when at least one configured channel took it.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..mailhost.smtp import SmtpChannel, deliver
from ..model.addresses import Account
from ..model.mailboxes import support_mailbox, unit_mailboxes
from ..model.orgs import Tree
from .converge import Issued
from .plan import VIA_SUPPORT, Change

# Where people change an initial password (the password page, R6.1); the default of every message.
PASSWORD_URL = "https://mail.khanhhoa.gov.vn/password"


def readable(desired: list[Account], have: dict[str, dict]) -> set[str]:
    """Mailboxes somebody can read now: active in the files and in the directory, and their own
    initial password already changed (no ``pwdReset``)."""
    return {
        a.address
        for a in desired
        if a.status == "active"
        and have.get(a.address, {}).get("status") == "active"
        and not have.get(a.address, {}).get("pwd_reset")
    }


def recipients(issued: list[Issued], tree: Tree, live: set[str]) -> dict[str, list[Issued]]:
    """Receiving mailbox → the passwords it receives.

    A unit's people and sub-units go to the unit's mailbox when it can already be read (``live``:
    see ``readable``; and not itself receiving a new password now); everything else — the unit
    mailboxes themselves, system accounts, units without a readable mailbox — goes to the support
    mailbox of the operator, who hands it over through the official document channel.
    """
    boxes = unit_mailboxes(tree)
    fresh = {i.account.address for i in issued}
    support = support_mailbox(tree)
    out: dict[str, list[Issued]] = defaultdict(list)
    for item in issued:
        box = boxes.get(item.account.org) if item.account.kind in ("person", "unit") else None
        if not box or box in fresh or box not in live:
            box = support
        out[box].append(item)
    return dict(out)


def waiting_for_unit(issued: list[Issued], tree: Tree, batches: dict[str, list[Issued]]) -> set[str]:
    """Addresses whose password went to the support mailbox only because their unit's mailbox could not
    be read yet: their token is marked, and ``resend`` issues them again once it can."""
    boxes = unit_mailboxes(tree)
    support = support_mailbox(tree)
    return {
        i.account.address
        for i in batches.get(support, [])
        if i.account.kind in ("person", "unit") and boxes.get(i.account.org)
    }


def resend(tree: Tree, desired: list[Account], current: list[dict], changes: list[Change]) -> list[Change]:
    """A fresh initial password for every entry marked ``via-support`` whose holder has not changed it
    yet (``pwdReset``) and whose unit's mailbox has become readable: the notice goes where it belongs."""
    have = {c["address"]: c for c in current}
    can_read = readable(desired, have)
    boxes = unit_mailboxes(tree)
    planned = {c.address for c in changes if c.op in ("reset", "create", "suspend", "revoke")}
    out = []
    for account in desired:
        cur = have.get(account.address) or {}
        marked = str(cur.get("reset") or "").startswith(VIA_SUPPORT)
        if not marked or not cur.get("pwd_reset") or account.status != "active" or cur.get("status") != "active":
            continue
        if account.address in planned or boxes.get(account.org) not in can_read:
            continue
        out.append(
            Change(
                "reset", account.address, account.kind, account.org, account.unit, account.name, account.status,
                changes={"reset": [cur.get("reset"), account.reset]},
                reason="re-sent to the unit mailbox, now readable",
            )
        )  # fmt: skip
    return out


def _line(account: Account, password: str) -> str:
    who = account.name + (f" — {account.title}" if account.title else "")
    return f"  • {account.address}\n    {who}\n    Mật khẩu khởi tạo / initial password: {password}\n"


def message(to: str, items: list[Issued], sender: str, web: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "Tài khoản thư điện tử công vụ: mật khẩu khởi tạo / initial passwords"
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.split("@", 1)[1])
    body = (
        "Kính gửi đơn vị,\n\n"
        "Trung tâm Chuyển đổi số đã thực hiện yêu cầu về tài khoản thư điện tử công vụ của đơn vị.\n"
        "Mật khẩu dưới đây là mật khẩu khởi tạo: người dùng phải đổi mật khẩu ở lần đăng nhập đầu tiên\n"
        f"(Điều 6, khoản 1) tại {web}. Mật khẩu mới dài ít nhất 8 ký tự, có chữ hoa, chữ thường,\n"
        "chữ số và ký tự đặc biệt (Điều 6, khoản 2).\n"
        "Vui lòng trao mật khẩu trực tiếp cho từng người và xóa thư này sau khi bàn giao.\n\n"
        + "".join(_line(i.account, i.password) for i in items)
        + "\n"
        "The Digital Transformation Centre has carried out your unit's request. These are initial\n"
        f"passwords: each must be changed at first login (R6.1) at {web}. Hand each one over in\n"
        "person and delete this message afterwards.\n"
    )
    msg.set_content(body)
    return msg


def send_smtp(channel: SmtpChannel, batches: dict[str, list[Issued]], sender: str, web: str) -> dict[str, str | None]:
    """Send one message per mailbox; returns mailbox → error (None when accepted)."""
    return deliver(channel, {to: message(to, items, sender, web) for to, items in batches.items()})


def write_age(path: Path, recipients_keys: list[str], batches: dict[str, list[Issued]], web: str) -> None:
    """One file, encrypted with age to the operator's public keys; the clear text never touches disk."""
    text = "".join(message(to, items, "govmail@localhost", web).get_content() for to, items in batches.items())
    args = ["age", "--encrypt", "--armor", "--output", str(path)]
    for key in recipients_keys:
        args += ["--recipient", key]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(args, input=text.encode("utf-8"), check=True, capture_output=True, timeout=60)
