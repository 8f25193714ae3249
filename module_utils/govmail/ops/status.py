"""``govmail status``: each service checked end to end, one line per check, non-zero when one fails (R9.2a).

The checks talk to the services the way a user or a monitoring system would: the SMTP banner of the
MX and of submission (STARTTLS), an IMAPS login of a probe account, an LDAP bind over StartTLS, the
certificates' remaining days as the handshakes show them, the mail queue and the last backup from the
metrics the exporters publish (prometheus-postfix-exporter reads Postfix's showq; the backup job
writes its last success into prometheus-node-exporter's textfile collector), and Dovecot's own
OpenMetrics endpoint. Nothing is changed on the servers.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import re
import smtplib
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from ..directory.ldap_client import LdapError, connect

METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
MAX_METRICS_BYTES = 8 << 20  # a metrics page is a few hundred kB; refuse anything absurd


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name:<12} {self.detail}"


@dataclass
class Target:
    """Where the services are and what counts as healthy."""

    host: str = "127.0.0.1"
    smtp_port: int = 25
    submission_port: int = 587
    imaps_port: int = 993
    ca_path: str | None = None
    probe_user: str | None = None
    probe_password: str | None = field(default=None, repr=False)
    ldap: dict | None = None  # ldap_client.connect options
    node_metrics: str | None = None
    postfix_metrics: str | None = None
    dovecot_metrics: str | None = None
    max_queue: int = 50
    min_cert_days: int = 14
    max_backup_age_hours: float = 26.0
    timeout: float = 15.0


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples of a Prometheus/OpenMetrics text page: (name, labels, value)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = METRIC_LINE.match(line)
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        samples.append((match.group(1), dict(LABEL.findall(match.group(2) or "")), value))
    return samples


def fetch_metrics(url: str, timeout: float) -> list[tuple[str, dict[str, str], float]]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url}: not an http(s) address")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = response.read(MAX_METRICS_BYTES + 1)
    if len(body) > MAX_METRICS_BYTES:
        raise ValueError(f"{url}: more than {MAX_METRICS_BYTES} bytes")
    return parse_metrics(body.decode("utf-8", errors="replace"))


def _days_left(cert: dict, now: float) -> float:
    return (ssl.cert_time_to_seconds(cert["notAfter"]) - now) / 86400


class Probe:
    """Runs the checks of one target; ``certs`` collects (service, days left) from every handshake."""

    def __init__(self, target: Target, now: Callable[[], float] = time.time):
        self.t = target
        self.now = now
        self.certs: list[tuple[str, float]] = []
        self.context = ssl.create_default_context(cafile=target.ca_path)

    def _cert(self, service: str, sock: ssl.SSLSocket) -> None:
        cert = sock.getpeercert()
        if cert:
            self.certs.append((service, _days_left(cert, self.now())))

    def smtp(self) -> Check:
        where = f"{self.t.host}:{self.t.smtp_port}"
        try:
            with smtplib.SMTP(timeout=self.t.timeout) as client:
                code, banner = client.connect(self.t.host, self.t.smtp_port)
                client.ehlo("status.govmail.invalid")
        except (OSError, smtplib.SMTPException) as exc:
            return Check("smtp", False, f"{where}: {exc or type(exc).__name__}")
        text = banner.decode(errors="replace")
        return Check("smtp", code == 220, f"{where}: {code} {text}")

    def submission(self) -> Check:
        where = f"{self.t.host}:{self.t.submission_port}"
        try:
            # The constructor reads the banner (anything but 220 raises) and keeps the host for STARTTLS.
            with smtplib.SMTP(self.t.host, self.t.submission_port, "status.govmail.invalid", self.t.timeout) as client:
                client.starttls(context=self.context)
                self._cert("submission", client.sock)
                code, reply = client.ehlo("status.govmail.invalid")
                auth = client.has_extn("auth")
        except (OSError, smtplib.SMTPException) as exc:
            return Check("submission", False, f"{where}: {exc or type(exc).__name__}")
        greeting = reply.decode(errors="replace").splitlines()[0]
        ok = code == 250 and auth
        return Check(
            "submission", ok, f"{where}: 220, STARTTLS, EHLO {code} {greeting}, AUTH {'offered' if auth else 'MISSING'}"
        )

    def imap(self) -> Check:
        where = f"{self.t.host}:{self.t.imaps_port}"
        if not self.t.probe_user or not self.t.probe_password:
            return Check("imap", False, f"{where}: no probe account (--probe-user, $GOVMAIL_PROBE_PW_FILE)")
        try:
            client = imaplib.IMAP4_SSL(self.t.host, self.t.imaps_port, ssl_context=self.context, timeout=self.t.timeout)
        except (OSError, imaplib.IMAP4.error) as exc:
            return Check("imap", False, f"{where}: {exc or type(exc).__name__}")
        try:
            self._cert("imaps", client.sock)
            client.login(self.t.probe_user, self.t.probe_password)
            typ, data = client.select("INBOX", readonly=True)
            client.logout()
        except (OSError, imaplib.IMAP4.error) as exc:
            return Check("imap", False, f"{where}: login of {self.t.probe_user} failed: {exc}")
        return Check("imap", typ == "OK", f"{where}: {self.t.probe_user} logged in, INBOX {data[0].decode()} messages")

    def ldap(self) -> Check:
        if not self.t.ldap:
            return Check("ldap", False, "no directory given (--ldap)")
        uri = self.t.ldap["server_uri"]
        try:
            with connect(**self.t.ldap) as directory:
                who = directory.who_am_i() or "anonymous"
                der = directory.peer_certificate()
                if der:
                    self._der_cert("ldap", der)
                monitor = self._ldap_monitor(directory)
        except LdapError as exc:
            return Check("ldap", False, str(exc))
        return Check("ldap", True, f"{uri}: bound as {who}{monitor}")

    def _der_cert(self, service: str, der: bytes) -> None:
        from cryptography import x509  # noqa: PLC0415 — only when a TLS connection hands over its certificate

        expires = x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
        self.certs.append((service, (expires - self.now()) / 86400))

    @staticmethod
    def _ldap_monitor(directory) -> str:
        """Current connections from slapd's cn=monitor, when the bound identity may read it."""
        try:
            found = directory.read("cn=Current,cn=Connections,cn=Monitor", ["+"]) or {}
        except LdapError:
            return ""
        counter = found.get("monitorCounter") or []
        return f", cn=monitor: {counter[0]} connection(s)" if counter else ""

    def certificates(self) -> Check:
        if not self.certs:
            return Check("certificates", False, "no TLS handshake succeeded: expiry unknown")
        worst = min(self.certs, key=lambda c: c[1])
        listed = ", ".join(f"{name} {days:.0f} d" for name, days in self.certs)
        ok = worst[1] >= self.t.min_cert_days
        return Check("certificates", ok, f"days left: {listed} (minimum {self.t.min_cert_days})")

    def queue(self) -> Check:
        if not self.t.postfix_metrics:
            return Check("queue", False, "no Postfix exporter given (--postfix-metrics)")
        try:
            samples = fetch_metrics(self.t.postfix_metrics, self.t.timeout)
        except (OSError, ValueError) as exc:
            return Check("queue", False, f"{self.t.postfix_metrics}: {exc}")
        counts = [s for s in samples if s[0] == "postfix_showq_message_age_seconds_count"]
        if not counts:
            up = [s for s in samples if s[0] == "postfix_up"]
            return Check("queue", False, f"{self.t.postfix_metrics}: no showq figures (postfix_up {up})")
        by_queue: dict[str, float] = {}
        for _, labels, value in counts:
            by_queue[labels.get("queue", "?")] = by_queue.get(labels.get("queue", "?"), 0) + value
        total = int(sum(by_queue.values()))
        detail = ", ".join(f"{q} {int(v)}" for q, v in sorted(by_queue.items()))
        return Check(
            "queue", total <= self.t.max_queue, f"{total} message(s) queued ({detail}; maximum {self.t.max_queue})"
        )

    def backup(self) -> Check:
        if not self.t.node_metrics:
            return Check("backup", False, "no node exporter given (--node-metrics)")
        try:
            samples = fetch_metrics(self.t.node_metrics, self.t.timeout)
        except (OSError, ValueError) as exc:
            return Check("backup", False, f"{self.t.node_metrics}: {exc}")
        stamps = [v for n, _, v in samples if n == "govmail_backup_last_success_timestamp_seconds"]
        failed = [v for n, _, v in samples if n == "govmail_backup_last_run_failed"]
        if not stamps:
            return Check(
                "backup", False, "no successful backup recorded (govmail_backup_last_success_timestamp_seconds)"
            )
        age = (self.now() - max(stamps)) / 3600
        when = dt.datetime.fromtimestamp(max(stamps), dt.UTC).isoformat(timespec="seconds")
        if failed and failed[0] >= 1:
            return Check("backup", False, f"the last run failed; last success {when} ({age:.1f} h ago)")
        ok = age <= self.t.max_backup_age_hours
        return Check("backup", ok, f"last success {when}, {age:.1f} h ago (maximum {self.t.max_backup_age_hours:g} h)")

    def dovecot_metrics(self) -> Check:
        if not self.t.dovecot_metrics:
            return Check("dovecot-stats", False, "no Dovecot metrics address given (--dovecot-metrics)")
        try:
            samples = fetch_metrics(self.t.dovecot_metrics, self.t.timeout)
        except (OSError, ValueError) as exc:
            return Check("dovecot-stats", False, f"{self.t.dovecot_metrics}: {exc}")
        names = {n for n, _, _ in samples if n.startswith("dovecot_")}
        return Check("dovecot-stats", bool(names), f"{len(names)} dovecot_* series")

    def run(self) -> list[Check]:
        socket.setdefaulttimeout(self.t.timeout)
        steps = [self.smtp, self.submission, self.imap, self.ldap, self.certificates, self.queue, self.backup]
        if self.t.dovecot_metrics:
            steps.append(self.dovecot_metrics)
        checks = []
        for step in steps:  # certificates after every handshake
            try:
                checks.append(step())
            except Exception as exc:
                checks.append(Check(step.__name__.replace("_", "-"), False, f"{type(exc).__name__}: {exc}"))
        return checks
