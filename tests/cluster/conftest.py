"""Fixtures for the cluster lab tests (`make test-cluster`): the real servers of the cluster profile
(inventory/cluster, docs/cluster.md), reached on the ports bin/lab publishes on 127.0.0.1 and with
`docker exec`. Accounts are created per test with random names and passwords and deleted after."""

from __future__ import annotations

import imaplib
import re
import secrets
import smtplib
import ssl
import string
import subprocess
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import ldap3
import pytest

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var" / "lab-cluster"
DOMAIN = "khanhhoa.gov.vn"
SUFFIX = "dc=khanhhoa,dc=gov,dc=vn"
ACCOUNTS = f"ou=accounts,{SUFFIX}"
PROVISIONER = f"cn=provisioner,ou=services,{SUFFIX}"
PROVIDERS = {"govmail-cl-ldap1": 10401, "govmail-cl-ldap2": 10402}
MX = "govmail-cl-mx"  # the front: MX, submission, the IMAP proxy, webmail
# The mail backends: container → the host name govmailMailHost holds (inventory/cluster).
BACKENDS = {"govmail-cl-mail1": "mail1.khanhhoa.gov.vn", "govmail-cl-mail2": "mail2.khanhhoa.gov.vn"}
PORTS = {25: 10426, 587: 10488, 143: 10444, 993: 10494}
LDAP1 = next(iter(PROVIDERS))
HELO = "client.example.org"
WAIT = 180.0  # seconds to wait for the cluster to converge (replication, a node's return, a queue)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/cluster runs real servers: mark it `integration`."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


def docker(*args: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def on(node: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return docker("exec", node, *cmd, check=check)


def wait_for(what: str, probe, wait: float = WAIT):
    """Poll ``probe`` until it returns something true (bounded); fail naming ``what`` otherwise."""
    deadline = time.monotonic() + wait
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (OSError, AssertionError, ldap3.core.exceptions.LDAPException) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(1)
    raise AssertionError(f"{what}: not within {wait:.0f} s (last: {last!r})")


def strong_password() -> str:
    classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, "!@#%$*&^"]
    chars = [secrets.choice(c) for c in classes] + [secrets.choice("".join(classes)) for _ in range(12)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def directory_state(node: str) -> tuple[list[str], int]:
    """(contextCSN values, number of entries) of a provider, read as root over ldapi."""
    base = ["ldapsearch", "-LLL", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///", "-o", "ldif-wrap=no", "-b", SUFFIX]
    csn = on(node, *base, "-s", "base", "contextCSN").stdout
    dns = on(node, *base, "(objectClass=*)", "1.1").stdout
    return sorted(line.split(": ", 1)[1] for line in csn.splitlines() if line.startswith("contextCSN:")), sum(
        1 for line in dns.splitlines() if line.startswith("dn:")
    )


@dataclass(frozen=True)
class Cluster:
    ca: Path
    provisioner_password: str

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def ldap(self, node: str, user: str | None = None, secret: str | None = None) -> ldap3.Connection:
        tls = ldap3.Tls(ca_certs_file=str(self.ca), validate=ssl.CERT_REQUIRED)
        server = ldap3.Server("127.0.0.1", port=PROVIDERS[node], tls=tls, get_info=ldap3.NONE, connect_timeout=5)
        conn = ldap3.Connection(server, user=user, password=secret, raise_exceptions=False, receive_timeout=10)
        conn.open()
        assert conn.start_tls(), conn.result
        conn.bind()
        return conn

    def provisioner(self, node: str) -> ldap3.Connection:
        conn = self.ldap(node, PROVISIONER, self.provisioner_password)
        assert conn.bound, conn.result
        return conn

    def mx(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP("127.0.0.1", PORTS[25], local_hostname=HELO, timeout=30)
        smtp.ehlo()
        return smtp

    def send_from_outside(self, address: str, subject: str, text: str) -> None:
        """One message from the Internet to ``address`` through the front's MX."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "someone@example.org", address, subject
        message.set_content(text)
        with self.mx() as smtp:
            smtp.send_message(message)

    def imap(self, address: str, password: str) -> imaplib.IMAP4:
        """A logged-in IMAP session through the front (the proxy)."""
        imap = imaplib.IMAP4("127.0.0.1", PORTS[143], timeout=30)
        imap.starttls(ssl_context=self.ssl_context)
        imap.login(address, password)
        return imap

    def imap_login(self, address: str, password: str) -> bool:
        imap = imaplib.IMAP4("127.0.0.1", PORTS[143], timeout=30)
        imap.starttls(ssl_context=self.ssl_context)
        try:
            imap.login(address, password)
        except imaplib.IMAP4.error:
            return False
        finally:
            imap.shutdown()
        return True


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    for node in [*PROVIDERS, *BACKENDS, MX]:
        state = docker("inspect", "-f", "{{ .State.Status }}", node, check=False)
        if state.stdout.strip() != "running":
            pytest.fail(f"the cluster node {node} is not running: run `make lab-cluster` (make test-cluster does it)")
    return Cluster(
        ca=VAR / "tls" / "ca.pem", provisioner_password=(VAR / "secrets" / "provisioner").read_text().strip()
    )


def count_on(node: str, address: str) -> int:
    """How many messages the INBOX of ``address`` holds on the mail node ``node`` (0 if none there)."""
    out = on(node, "doveadm", "-f", "tab", "mailbox", "status", "-u", address, "messages", "INBOX", check=False)
    numbers = re.findall(r"^INBOX\t(\d+)$", out.stdout, re.MULTILINE)
    return int(numbers[-1]) if out.returncode == 0 and numbers else 0


@pytest.fixture
def mailbox(cluster: Cluster):
    """Makes active accounts on a chosen backend (govmailMailHost), passwords changed by the user."""
    made: list[str] = []

    def make(host: str) -> tuple[str, str]:
        uid = f"t{secrets.token_hex(4)}.be"
        initial, password = strong_password(), strong_password()
        dn = f"uid={uid},{ACCOUNTS}"
        attrs = {"objectClass": ["inetOrgPerson", "govmailAccount"], "uid": uid, "cn": "Người Thử Máy", "sn": "Thử",
                 "mail": f"{uid}@{DOMAIN}", "govmailState": "active", "govmailManaged": "TRUE",
                 "govmailKind": "person", "govmailUnit": "lab/test", "govmailMailHost": host,
                 "userPassword": initial, "pwdReset": "TRUE"}  # fmt: skip
        with cluster.provisioner(LDAP1) as conn:
            assert conn.add(dn, attributes=attrs), conn.result
        made.append(dn)
        with cluster.ldap(LDAP1, dn, initial) as conn:
            assert conn.bound, conn.result
            conn.extend.standard.modify_password(dn, initial, password)
            assert conn.result["result"] == 0, conn.result
        return f"{uid}@{DOMAIN}", password

    yield make
    for node in BACKENDS:
        docker("start", node, check=False)
    with cluster.provisioner(LDAP1) as conn:
        for dn in made:
            conn.delete(dn)
    for node in BACKENDS:
        for dn in made:
            local = dn.split(",")[0].split("=")[1]
            on(node, "sh", "-c", f"rm -rf /var/vmail/{DOMAIN}/{local} /var/vmail/.moved/{local}@*", check=False)
