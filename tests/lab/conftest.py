"""Fixtures for the lab tests: they talk to the real servers of the converged lab container.

`make test-lab` brings the lab up first (`bin/lab up`, idempotent). The tests reach the servers
through the ports the container publishes on 127.0.0.1, with the lab CA, and read the generated
secrets from var/lab/. Accounts are created per test with random names and random passwords and
deleted afterwards.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import os
import secrets
import smtplib
import ssl
import string
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ldap3
import pytest

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var" / "lab"
CONTAINER = os.environ.get("GOVMAIL_LAB_CONTAINER", "govmail-lab")
DOMAIN = "khanhhoa.gov.vn"
SUFFIX = "dc=khanhhoa,dc=gov,dc=vn"
ACCOUNTS = f"ou=accounts,{SUFFIX}"
REVOKED = f"ou=revoked,{SUFFIX}"
PROVISIONER = f"cn=provisioner,ou=services,{SUFFIX}"
MAILSERVER = f"cn=mailserver,ou=services,{SUFFIX}"
HELO = "client.example.org"
SESSION_GUARD_LOG = "/var/log/govmail-session-guard.log"  # dovecot__session_guard_log
DELIVERY_WAIT = 30.0  # seconds to wait for a queued message to reach the maildir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/lab runs real servers: mark it `integration`."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=60)


def in_lab(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command inside the lab container (as root)."""
    return docker("exec", CONTAINER, *cmd, check=check)


def strong_password() -> str:
    """A random password meeting R6.2: 16 characters with upper, lower, digit and special."""
    classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, "!@#%$*&^"]
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice("".join(classes)) for _ in range(12)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


@dataclass(frozen=True)
class Lab:
    ports: dict[int, int]
    ca: Path
    provisioner_password: str
    mailserver_password: str

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    # --- LDAP ---------------------------------------------------------------------------
    def ldap(self, user: str | None = None, secret: str | None = None, tls: bool = True) -> ldap3.Connection:
        """A connection (StartTLS by default) bound as `user`, or anonymous."""
        tls_conf = ldap3.Tls(ca_certs_file=str(self.ca), validate=ssl.CERT_REQUIRED)
        server = ldap3.Server("127.0.0.1", port=self.ports[389], tls=tls_conf, get_info=ldap3.NONE)
        conn = ldap3.Connection(server, user=user, password=secret, raise_exceptions=False)
        conn.open()
        if tls:
            assert conn.start_tls(), conn.result
        conn.bind()
        return conn

    def provisioner(self) -> ldap3.Connection:
        conn = self.ldap(PROVISIONER, self.provisioner_password)
        assert conn.bound, conn.result
        return conn

    # --- SMTP / IMAP --------------------------------------------------------------------
    def mx(self) -> smtplib.SMTP:
        """A client of the public MX (port 25), as the Internet sees it."""
        smtp = smtplib.SMTP("127.0.0.1", self.ports[25], local_hostname=HELO, timeout=30)
        smtp.ehlo()
        return smtp

    def submission(self, starttls: bool = True) -> smtplib.SMTP:
        smtp = smtplib.SMTP("127.0.0.1", self.ports[587], local_hostname=HELO, timeout=30)
        smtp.ehlo()
        if starttls:
            smtp.starttls(context=self.ssl_context)
            smtp.ehlo()
        return smtp

    def imap(self, starttls: bool = True) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.ports[143], timeout=30)
        if starttls:
            imap.starttls(ssl_context=self.ssl_context)
        return imap

    def imaps(self) -> imaplib.IMAP4_SSL:
        return imaplib.IMAP4_SSL("127.0.0.1", self.ports[993], ssl_context=self.ssl_context, timeout=30)


@pytest.fixture(scope="session")
def lab() -> Lab:
    state = docker("inspect", "-f", "{{ .State.Status }}", CONTAINER, check=False)
    if state.returncode != 0 or state.stdout.strip() != "running":
        pytest.fail(f"the lab container {CONTAINER} is not running: run `make lab-up` (make test-lab does it)")
    ports = {}
    for port in (25, 143, 389, 587, 993):
        published = docker("port", CONTAINER, f"{port}/tcp").stdout.splitlines()[0]
        host, _, host_port = published.rpartition(":")
        assert host == "127.0.0.1", f"port {port} must be published on 127.0.0.1 only, got {published}"
        ports[port] = int(host_port)
    return Lab(
        ports=ports,
        ca=VAR / "tls" / "ca.pem",
        provisioner_password=(VAR / "secrets" / "provisioner").read_text().strip(),
        mailserver_password=(VAR / "secrets" / "mailserver").read_text().strip(),
    )


@dataclass
class Account:
    uid: str
    password: str
    lab: Lab
    aliases: list[str] = field(default_factory=list)

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{ACCOUNTS}"

    @property
    def mail(self) -> str:
        return f"{self.uid}@{DOMAIN}"

    def bind(self, password: str | None = None) -> ldap3.Connection:
        return self.lab.ldap(self.dn, password or self.password)

    def change_password(self, new: str) -> ldap3.Connection:
        """Change the password as the user: bind, then the password modify extended operation."""
        conn = self.bind()
        assert conn.bound, conn.result
        conn.extend.standard.modify_password(self.dn, self.password, new)
        return conn

    def after_session_guard(self, wait: float = 30.0) -> None:
        """Wait (bounded) until the session guard has acted on this account's last password change.

        The guard ends every session of an account whose password changed (polling every few
        seconds), so a session opened just after `make_account(ready=True)` could be ended by it; a
        test that keeps a session open and judges who ended it opens it only after this."""
        with self.lab.provisioner() as conn:
            assert conn.search(self.dn, "(objectClass=*)", attributes=["pwdChangedTime"]), conn.result
            changed = conn.response[0]["raw_attributes"]["pwdChangedTime"][0].decode()
        done = f"password of {self.mail} changed at {changed}: "
        deadline = time.monotonic() + wait
        while in_lab("grep", "-qF", done, SESSION_GUARD_LOG, check=False).returncode != 0:
            assert time.monotonic() < deadline, f"the session guard did not act on {self.mail} within {wait:.0f} s"
            time.sleep(0.5)

    def set_state(self, state: str) -> None:
        """What the provisioning engine does to suspend/restore (R8.1, R8.3): change the state,
        then drop Dovecot's cached logins and open sessions of the account."""
        with self.lab.provisioner() as conn:
            assert conn.modify(self.dn, {"govmailState": [(ldap3.MODIFY_REPLACE, [state])]}), conn.result
        in_lab("doveadm", "auth", "cache", "flush", self.mail)
        in_lab("doveadm", "kick", self.mail, check=False)  # exits 68 when nobody was logged in

    def imap_login(self, password: str | None = None) -> bool:
        imap = self.lab.imap()
        try:
            imap.login(self.mail, password or self.password)
        except imaplib.IMAP4.error:
            return False
        finally:
            imap.shutdown()
        return True

    def smtp_login(self, password: str | None = None) -> bool:
        smtp = self.lab.submission()
        try:
            smtp.login(self.mail, password or self.password)
        except smtplib.SMTPAuthenticationError:
            return False
        finally:
            smtp.close()
        return True

    def find_message(self, subject: str, wait: float = DELIVERY_WAIT) -> str:
        """The text of the message with `subject` in the account's INBOX, read on the server with
        doveadm (works for suspended accounts too); waits for the queue to deliver it."""
        deadline = time.monotonic() + wait
        while True:
            out = in_lab(
                "doveadm",
                "fetch",
                "-u",
                self.mail,
                "text",
                "mailbox",
                "INBOX",
                "header",
                "Subject",
                subject,
                check=False,
            )
            if out.returncode == 0 and subject in out.stdout:
                return out.stdout
            if time.monotonic() > deadline:
                queue = in_lab("postqueue", "-p", check=False).stdout
                raise AssertionError(f"no message {subject!r} for {self.mail}: {out.stderr}\nqueue:\n{queue}")
            time.sleep(0.5)


AccountFactory = Callable[..., Account]


@pytest.fixture
def make_account(lab: Lab) -> Iterator[AccountFactory]:
    """Create accounts the way the provisioning engine does: inetOrgPerson + govmailAccount with
    an operator-set password and pwdReset TRUE (R6.1). `ready=True` then changes the password as
    the user would at first login, so the account can be used at once."""
    created: list[Account] = []

    def factory(state: str = "active", ready: bool = True, aliases: tuple[str, ...] = ()) -> Account:
        uid = f"t{secrets.token_hex(4)}.lab"
        account = Account(uid=uid, password=strong_password(), lab=lab, aliases=list(aliases))
        attrs = {
            "objectClass": ["inetOrgPerson", "govmailAccount"],
            "uid": uid,
            "cn": "Người Thử Nghiệm",
            "sn": "Thử",
            "mail": account.mail,
            "govmailState": state,
            "govmailManaged": "TRUE",
            "govmailKind": "person",
            "govmailUnit": "lab/test",
            "userPassword": account.password,
            "pwdReset": "TRUE",
        }
        if aliases:
            attrs["govmailAlias"] = list(aliases)
        with lab.provisioner() as conn:
            assert conn.add(account.dn, attributes=attrs), conn.result
        created.append(account)
        if ready:
            new = strong_password()
            conn = account.change_password(new)
            assert conn.result["result"] == 0, conn.result
            conn.unbind()
            account.password = new
        return account

    yield factory

    with lab.provisioner() as conn:
        for account in created:
            for base in (ACCOUNTS, REVOKED):
                conn.delete(f"uid={account.uid},{base}")
    for account in created:
        in_lab("rm", "-rf", f"/var/vmail/{DOMAIN}/{account.uid}", check=False)


def send_mx(lab: Lab, to: str, subject: str, body: str, sender: str = "sender@example.org") -> None:
    """Send a message through the public MX, like any server on the Internet."""
    message = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    with lab.mx() as smtp:
        refused = smtp.sendmail(sender, [to], message.encode())
    assert refused == {}, refused


def backdate(account, days: int = 2) -> None:
    """The password was set `days` ago (past the one-day minimum age): root over ldapi, Relax Rules."""
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).strftime("%Y%m%d%H%M%SZ")
    ldif = f"dn: {account.dn}\nchangetype: modify\nreplace: pwdChangedTime\npwdChangedTime: {stamp}\n"
    run = subprocess.run(
        ["docker", "exec", "-i", CONTAINER, "ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///", "-e", "relax"],
        input=ldif, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
