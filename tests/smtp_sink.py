"""A real SMTP server for tests (aiosmtpd): collects every message it accepts, in memory."""

from __future__ import annotations

import email
import email.policy
import socket
import time

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collector:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


class SmtpSink:
    """``with SmtpSink() as sink:`` — ``sink.port``; ``sink.messages`` (parsed), ``sink.wait(n)``."""

    def __init__(self):
        self.port = _free_port()
        self.collector = _Collector()
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self):
        return self.collector.messages

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]

    def wait(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
