"""Plain notices to people and units (lifecycle warnings, password-expiry reminders) and their delivery.

One message per recipient, sent through the province's own mail server (``mailhost.smtp.SmtpChannel``).
A ledger (a small JSON file) remembers which notice went to whom, so a job that runs twice on the
same day never sends the same notice twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..mailhost.smtp import SmtpChannel, deliver


@dataclass(frozen=True)
class Notice:
    key: str  # what makes it unique in the ledger: "2026-11-28:suspend-warning:nvbinh@…"
    to: str
    subject: str
    body: str


def message(notice: Notice, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = notice.to
    msg["Subject"] = notice.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.split("@", 1)[-1])
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(notice.body)
    return msg


class Ledger:
    """Keys of notices already sent; kept in a JSON file (none: remember nothing)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.sent: set[str] = set()
        if self.path and self.path.exists():
            self.sent = set(json.loads(self.path.read_text(encoding="utf-8")))

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(self.sent), indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def send(channel: SmtpChannel, notices: list[Notice], sender: str, ledger: Ledger | None = None) -> list[dict]:
    """Send each notice not in the ledger; one result per notice: {key, to, error, skipped}."""
    ledger = ledger or Ledger(None)
    results = []
    todo = [n for n in notices if n.key not in ledger.sent]
    results += [{"key": n.key, "to": n.to, "error": None, "skipped": True} for n in notices if n.key in ledger.sent]
    if not todo:
        return results
    outcome = deliver(channel, {n.key: message(n, sender) for n in todo})
    for notice in todo:
        error = outcome[notice.key]
        if error is None:
            ledger.sent.add(notice.key)
        results.append({"key": notice.key, "to": notice.to, "error": error, "skipped": False})
    ledger.save()
    return results


def channel_from_args(host: str, port: int, starttls: bool, ca: str | None) -> SmtpChannel:
    user = os.environ.get("GOVMAIL_SMTP_USER")
    password = os.environ.get("GOVMAIL_SMTP_PASSWORD")
    return SmtpChannel(host=host, port=port, starttls=starttls, ca_path=ca, username=user, password=password)
