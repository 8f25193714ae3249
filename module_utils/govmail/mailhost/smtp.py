"""One SMTP session for many messages: how every govmail notice leaves (initial passwords, warnings, reminders)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class SmtpChannel:
    host: str
    port: int = 25
    starttls: bool = False
    validate_certs: bool = True
    ca_path: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str | None = None
    timeout: int = 30


def deliver(channel: SmtpChannel, messages: dict[object, EmailMessage]) -> dict[object, str | None]:
    """Send every message in one SMTP session; key → None when accepted, else why not.

    One refused message does not stop the others; a session that cannot be opened fails them all.
    """
    results: dict[object, str | None] = {}
    context = ssl.create_default_context(cafile=channel.ca_path)
    if not channel.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout) as smtp:
            if channel.starttls:
                smtp.starttls(context=context)
            if channel.username:
                smtp.login(channel.username, channel.password or "")
            for key, msg in messages.items():
                try:
                    smtp.send_message(msg)
                    results[key] = None
                except smtplib.SMTPException as exc:
                    results[key] = f"{type(exc).__name__}: {exc}"
    except (OSError, smtplib.SMTPException) as exc:
        for key in messages:
            results.setdefault(key, f"cannot send through {channel.host}:{channel.port}: {exc}")
    return results
