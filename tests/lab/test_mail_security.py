"""Issue 12 §2 and §5 on the lab: rspamd's DKIM signature verifies (dkimpy) against the record `govmail dns` prints,
served by a real resolver (dnsmasq on the loopback) that `govmail dns --check` also compares; TLS 1.0/1.1, weak
ciphers and plain-text authentication are refused on submission, IMAP and the web."""

from __future__ import annotations

import hashlib
import imaplib
import json
import secrets
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from xml.etree import ElementTree

import dkim
import dns.resolver
import pytest

from .conftest import CONTAINER, DOMAIN, Lab, docker, in_lab

GOVMAIL = str(Path(sys.executable).with_name("govmail"))
SELECTOR = "govmail"


# --- a real resolver serving the zone `govmail dns` prints ---------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dnsmasq_conf(records: list[dict]) -> str:
    """The records as dnsmasq options (TXT split in 255-character strings, as in the zone)."""
    lines = []
    for r in records:
        name, rtype, value = r["name"], r["rtype"], r["value"]
        if rtype == "MX":
            pref, host = value.split()
            lines.append(f"mx-host={name},{host},{pref}")
        elif rtype == "A":
            lines.append(f"host-record={name},{value}")
        elif rtype == "TXT":
            chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
            lines.append(f"txt-record={name}," + ",".join(f'"{c}"' for c in chunks))
        elif rtype == "CNAME":
            lines.append(f"cname={name},{value}")
        elif rtype == "SRV":
            prio, weight, port, host = value.split()
            lines.append(f"srv-host={name},{host},{port},{prio},{weight}")
    return "\n".join(lines) + "\n"


def _records(pub: Path, *extra: str) -> list[dict]:
    out = subprocess.run(
        [GOVMAIL, "dns", "--domain", DOMAIN, "--ipv4", "127.0.0.1", "--dkim-key", str(pub), "--json", *extra],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


class Resolver:
    def __init__(self, conf: Path, port: int):
        self.port = port
        self.proc = subprocess.Popen(
            [
                "dnsmasq",
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                f"--port={port}",
                f"--conf-file={conf}",
                "--pid-file=",
                "--user=root",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.client = dns.resolver.Resolver(configure=False)
        self.client.nameservers, self.client.port, self.client.lifetime = ["127.0.0.1"], port, 5
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client.resolve(DOMAIN, "MX")
                return
            except Exception:
                assert self.proc.poll() is None, self.proc.stderr.read().decode()
                assert time.monotonic() < deadline, "dnsmasq did not answer"
                time.sleep(0.2)

    def txt(self, name: bytes, timeout: int = 5) -> bytes:
        """dkimpy's dnsfunc: the TXT record at `name`, as the published zone has it."""
        answer = self.client.resolve(name.decode().rstrip("."), "TXT")
        return b"".join(answer[0].strings)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def published(tmp_path: Path):
    """The zone of `govmail dns` (DKIM key read from the lab host) served by dnsmasq on 127.0.0.1."""
    assert shutil.which("dnsmasq"), "dnsmasq is missing: bin/bootstrap-host labtools installs it"
    pub = tmp_path / "dkim.pub"
    pub.write_text(in_lab("cat", f"/var/lib/rspamd/dkim/{DOMAIN}.{SELECTOR}.pub").stdout)
    conf = tmp_path / "zone.conf"
    conf.write_text(_dnsmasq_conf(_records(pub)))
    resolver = Resolver(conf, _free_port())
    yield resolver, pub
    resolver.stop()


def test_govmail_dns_check_agrees_with_the_published_zone_and_sees_a_wrong_key(published, tmp_path) -> None:
    resolver, pub = published
    ok = subprocess.run(
        [
            GOVMAIL,
            "dns",
            "--domain",
            DOMAIN,
            "--ipv4",
            "127.0.0.1",
            "--dkim-key",
            str(pub),
            "--check",
            "--resolver",
            f"127.0.0.1:{resolver.port}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "12 of 12 record(s) published as expected" in ok.stdout
    other = tmp_path / "other.pub"  # a key that is not the published one
    key = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], capture_output=True, check=True
    ).stdout
    other.write_bytes(subprocess.run(["openssl", "pkey", "-pubout"], input=key, capture_output=True, check=True).stdout)
    bad = subprocess.run(
        [
            GOVMAIL,
            "dns",
            "--domain",
            DOMAIN,
            "--ipv4",
            "127.0.0.1",
            "--dkim-key",
            str(other),
            "--dmarc-policy",
            "reject",
            "--check",
            "--resolver",
            f"127.0.0.1:{resolver.port}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert f"DIFFERENT {SELECTOR}._domainkey.{DOMAIN} TXT" in bad.stdout
    assert f"DIFFERENT _dmarc.{DOMAIN} TXT" in bad.stdout


def test_an_outgoing_message_carries_a_dkim_signature_that_verifies_against_the_published_record(
    lab: Lab, make_account, published
) -> None:
    resolver, _ = published
    sender, rcpt = make_account(), make_account()
    subject = f"dkim {secrets.token_hex(4)}"
    with lab.submission() as smtp:
        smtp.login(sender.mail, sender.password)
        smtp.sendmail(
            sender.mail,
            [rcpt.mail],
            (f"From: {sender.mail}\r\nTo: {rcpt.mail}\r\nSubject: {subject}\r\n\r\nBáo cáo tuần.\r\n").encode(),
        )
    rcpt.find_message(subject)
    raw = in_lab("doveadm", "fetch", "-u", rcpt.mail, "text", "mailbox", "INBOX", "header", "Subject", subject).stdout
    message = raw.split("text:\n", 1)[1].rstrip("\n\f").replace("\n", "\r\n").encode()
    assert f"d={DOMAIN}; s={SELECTOR};".encode() in message.replace(b"\r\n\t", b" ").replace(b"\r\n ", b" ")
    assert dkim.verify(message, dnsfunc=resolver.txt)
    assert not dkim.verify(message.replace("tuần".encode(), b"tuan"), dnsfunc=resolver.txt)  # a changed body fails


# --- TLS ---------------------------------------------------------------------------------------------------
def _old_tls_client() -> ssl.SSLContext:
    """A client that offers only TLS 1.0 and 1.1, with every cipher (what an old or downgraded client sends)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.minimum_version, ctx.maximum_version = ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


def _weak_cipher_client() -> ssl.SSLContext:
    """TLS 1.2 with only non-forward-secret CBC ciphers."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA:AES256-SHA:AES128-SHA256:DES-CBC3-SHA:@SECLEVEL=0")
    return ctx


def test_the_old_tls_client_really_speaks_tls_1_0(tmp_path) -> None:
    """The control for the refusals below: the same client completes a TLS 1.0 handshake with a server allowing it."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=old",
            "-keyout",
            tmp_path / "k.pem",
            "-out",
            tmp_path / "c.pem",
        ],
        capture_output=True,
        check=True,
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    server.minimum_version = server.maximum_version = ssl.TLSVersion.TLSv1
    server.set_ciphers("ALL:@SECLEVEL=0")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        thread = threading.Thread(target=lambda: server.wrap_socket(listener.accept()[0], server_side=True).close())
        thread.start()
        with _old_tls_client().wrap_socket(socket.create_connection(listener.getsockname(), timeout=10)) as tls:
            assert tls.version() == "TLSv1"
        thread.join(10)


def _web_port() -> int:
    return int(docker("port", CONTAINER, "443/tcp").stdout.splitlines()[0].rpartition(":")[2])


@pytest.mark.parametrize("client", [_old_tls_client, _weak_cipher_client], ids=["tls1.0-1.1", "weak-ciphers"])
def test_old_tls_and_weak_ciphers_are_refused_on_submission_imap_and_the_web(lab: Lab, client) -> None:
    smtp = lab.submission(starttls=False)
    try:
        with pytest.raises(ssl.SSLError):
            smtp.starttls(context=client())
    finally:
        smtp.close()
    imap = lab.imap(starttls=False)
    try:
        with pytest.raises(ssl.SSLError):
            imap.starttls(ssl_context=client())
    finally:
        imap.sock.close()
    for port in (lab.ports[993], _web_port()):
        with pytest.raises(ssl.SSLError):
            client().wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)).close()


def test_tls_1_2_with_modern_ciphers_and_tls_1_3_are_accepted(lab: Lab) -> None:
    """The control: the same ports accept a TLS 1.2 client limited to the modern ciphers, and TLS 1.3."""
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = lab.ssl_context
        ctx.minimum_version = ctx.maximum_version = version
        with lab.submission(starttls=False) as smtp:
            smtp.starttls(context=ctx)
            assert smtp.sock.version() == version.name.replace("_", ".")
        for port in (lab.ports[993], _web_port()):
            with ctx.wrap_socket(
                socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost"
            ) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
                if version is ssl.TLSVersion.TLSv1_2:
                    assert "GCM" in tls.cipher()[0] or "CHACHA20" in tls.cipher()[0]


def test_no_authentication_without_tls(lab: Lab, make_account) -> None:
    account = make_account()
    with lab.submission(starttls=False) as smtp:
        assert not smtp.has_extn("auth")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            smtp.login(account.mail, account.password)
    imap = lab.imap(starttls=False)
    try:
        assert "LOGINDISABLED" in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            imap.login(account.mail, account.password)
    finally:
        imap.shutdown()


# --- MTA-STS and autoconfiguration on the web server ---------------------------------------------------
def _https_get(lab: Lab, host: str, path: str) -> tuple[int, dict[str, str], str]:
    """GET https://<host><path> from the lab's web server on 127.0.0.1, as a client that resolved <host> there:
    SNI and Host are <host> and the certificate must be valid for <host> (the lab CA)."""
    port = int(docker("port", CONTAINER, "443/tcp").stdout.splitlines()[0].rpartition(":")[2])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        lab.ssl_context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body.decode()


def test_the_mta_sts_policy_is_served_as_govmail_dns_prints_it(lab: Lab) -> None:
    status, headers, policy = _https_get(lab, f"mta-sts.{DOMAIN}", "/.well-known/mta-sts.txt")
    assert status == 200, (status, policy)
    assert headers["content-type"].startswith("text/plain")
    fields = dict(line.split(": ", 1) for line in policy.splitlines())
    assert fields == {"version": "STSv1", "mode": "enforce", "mx": f"mail.{DOMAIN}", "max_age": "604800"}
    zone = subprocess.run([GOVMAIL, "dns", "--domain", DOMAIN], capture_output=True, text=True, check=True).stdout
    printed = [line[4:] for line in zone.splitlines() if line.startswith(";   ")]  # the policy to serve
    assert printed == policy.splitlines()
    records = {(r["name"], r["rtype"]): r["value"] for r in _records_plain()}
    assert records[(DOMAIN, "MX")] == f"10 mail.{DOMAIN}"  # the policy names the domain's MX
    assert records[(f"_mta-sts.{DOMAIN}", "TXT")] == f"v=STSv1; id={hashlib.sha256(policy.encode()).hexdigest()[:20]}"
    # nothing else is served on that name
    assert _https_get(lab, f"mta-sts.{DOMAIN}", "/")[0] == 404
    assert _https_get(lab, f"mta-sts.{DOMAIN}", "/mail/config-v1.1.xml")[0] == 404


def _records_plain() -> list[dict]:
    out = subprocess.run([GOVMAIL, "dns", "--domain", DOMAIN, "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_thunderbird_autoconfig_is_served_over_https_and_http(lab: Lab) -> None:
    status, headers, text = _https_get(lab, f"autoconfig.{DOMAIN}", "/mail/config-v1.1.xml")
    assert status == 200, (status, text)
    assert "xml" in headers["content-type"]
    provider = ElementTree.fromstring(text).find("emailProvider")
    assert provider is not None and provider.get("id") == DOMAIN
    assert provider.findtext("domain") == DOMAIN
    servers = {
        s.get("type"): (
            s.findtext("hostname"),
            int(s.findtext("port")),
            s.findtext("socketType"),
            s.findtext("username"),
        )
        for s in (*provider.findall("incomingServer"), *provider.findall("outgoingServer"))
    }
    assert servers == {
        "imap": (f"mail.{DOMAIN}", 993, "SSL", "%EMAILADDRESS%"),
        "smtp": (f"mail.{DOMAIN}", 587, "STARTTLS", "%EMAILADDRESS%"),
    }
    # the same servers as the RFC 6186 records `govmail dns` prints
    records = {(r["name"], r["rtype"]): r["value"] for r in _records_plain()}
    assert records[(f"_imaps._tcp.{DOMAIN}", "SRV")] == f"0 1 993 mail.{DOMAIN}"
    assert records[(f"_submission._tcp.{DOMAIN}", "SRV")] == f"0 1 587 mail.{DOMAIN}"
    assert records[(f"autoconfig.{DOMAIN}", "CNAME")] == f"mail.{DOMAIN}"
    # Thunderbird falls back to plain HTTP (port 80, asked from inside the host: the lab publishes only 443)
    plain = in_lab(
        "python3",
        "-c",
        "import urllib.request; r = urllib.request.urlopen(urllib.request.Request("
        f"'http://127.0.0.1/mail/config-v1.1.xml', headers={{'Host': 'autoconfig.{DOMAIN}'}}), timeout=30); "
        "print(r.status); print(r.read().decode())",
    ).stdout
    assert plain.startswith("200\n") and plain[4:].strip() == text.strip()
