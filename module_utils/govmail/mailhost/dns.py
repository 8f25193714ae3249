"""The DNS records a mail domain publishes (R9.2b), and their comparison with what a resolver answers.

``records`` derives them from a few facts: the domain, the mail host, its addresses, the DKIM
selector and public key (the filter role generates the key pair on the mail host), the address
that receives DMARC and TLS reports. ``check`` compares them with the answers of a resolver,
given as a function ``lookup(name, rtype) -> list[str]`` (``govmail dns --check`` passes dnspython's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

TXT_CHUNK = 255  # longest character-string in a TXT record (RFC 1035)


class DnsError(ValueError):
    """The facts cannot make valid records."""


@dataclass(frozen=True)
class Record:
    name: str  # fully qualified, no trailing dot
    rtype: str  # MX | TXT | CNAME | A | AAAA | SRV
    value: str  # canonical presentation (TXT: the joined text, unquoted)
    why: str  # what it is for, printed as a comment

    def zone_line(self) -> str:
        if self.rtype == "TXT":
            chunks = [self.value[i : i + TXT_CHUNK] for i in range(0, len(self.value), TXT_CHUNK)] or [""]
            data = " ".join(f'"{c}"' for c in chunks)
            data = f"( {data} )" if len(chunks) > 1 else data
        elif self.rtype in ("MX", "CNAME", "SRV"):
            data = self.value + "."
        else:
            data = self.value
        return f"{self.name}. 3600 IN {self.rtype} {data}"


def dkim_public_key(pem: str) -> str:
    """The p= value of a DKIM record: the base64 of the SubjectPublicKeyInfo of a PEM public key."""
    lines = [line.strip() for line in pem.strip().splitlines()]
    if not lines or lines[0] != "-----BEGIN PUBLIC KEY-----" or lines[-1] != "-----END PUBLIC KEY-----":
        raise DnsError("the DKIM key is not a PEM public key (-----BEGIN PUBLIC KEY-----)")
    body = "".join(lines[1:-1])
    if not body or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=" for c in body):
        raise DnsError("the DKIM key's PEM body is not base64")
    return body


def mta_sts_policy(mx_host: str, mode: str = "enforce", max_age: int = 604800) -> str:
    """The MTA-STS policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461)."""
    return f"version: STSv1\nmode: {mode}\nmx: {mx_host}\nmax_age: {max_age}\n"


def autoconfig_xml(domain: str, mx_host: str | None = None, display_name: str | None = None) -> str:
    """Thunderbird's autoconfiguration document (config-v1.1.xml), served at
    https://autoconfig.<domain>/mail/config-v1.1.xml: the same servers as the RFC 6186 SRV records
    ``records`` prints (IMAP over TLS on 993, submission with STARTTLS on 587), login = the address."""
    domain = domain.strip().lower().rstrip(".")
    if not domain or "." not in domain:
        raise DnsError(f"not a domain: {domain!r}")
    mx_host = (mx_host or f"mail.{domain}").lower().rstrip(".")
    name = xml_escape(display_name or domain)

    def server(tag: str, kind: str, port: int, socket: str) -> list[str]:
        return [
            f'    <{tag} type="{kind}">',
            f"      <hostname>{xml_escape(mx_host)}</hostname>",
            f"      <port>{port}</port>",
            f"      <socketType>{socket}</socketType>",
            "      <authentication>password-cleartext</authentication>",
            "      <username>%EMAILADDRESS%</username>",
            f"    </{tag}>",
        ]

    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<clientConfig version="1.1">',
        f'  <emailProvider id="{xml_escape(domain)}">',
        f"    <domain>{xml_escape(domain)}</domain>",
        f"    <displayName>{name}</displayName>",
        f"    <displayShortName>{xml_escape(domain)}</displayShortName>",
        *server("incomingServer", "imap", 993, "SSL"),
        *server("outgoingServer", "smtp", 587, "STARTTLS"),
        "  </emailProvider>",
        "</clientConfig>",
    ]
    return "\n".join(lines) + "\n"


def records(
    domain: str,
    *,
    mx_host: str | None = None,
    ipv4: tuple[str, ...] = (),
    ipv6: tuple[str, ...] = (),
    dkim_selector: str = "govmail",
    dkim_key_pem: str | None = None,
    report_address: str | None = None,
    dmarc_policy: str = "quarantine",
    mta_sts_mode: str = "enforce",
) -> list[Record]:
    domain = domain.strip().lower().rstrip(".")
    if not domain or "." not in domain:
        raise DnsError(f"not a domain: {domain!r}")
    mx_host = (mx_host or f"mail.{domain}").lower().rstrip(".")
    report = report_address or f"postmaster@{domain}"
    if dmarc_policy not in ("none", "quarantine", "reject"):
        raise DnsError(f"DMARC policy must be none, quarantine or reject, not {dmarc_policy!r}")
    policy = mta_sts_policy(mx_host, mta_sts_mode)
    out = [
        Record(domain, "MX", f"10 {mx_host}", "where mail for the domain is delivered"),
        *(Record(mx_host, "A", ip, "the mail host (SMTP, submission, IMAP, web)") for ip in ipv4),
        *(Record(mx_host, "AAAA", ip, "the mail host over IPv6") for ip in ipv6),
        Record(domain, "TXT", "v=spf1 mx -all", "SPF: only the MX hosts send for the domain"),
    ]
    if dkim_key_pem:
        key = dkim_public_key(dkim_key_pem)
        out.append(Record(f"{dkim_selector}._domainkey.{domain}", "TXT", f"v=DKIM1; k=rsa; p={key}", "DKIM public key"))
    out += [
        Record(
            f"_dmarc.{domain}",
            "TXT",
            f"v=DMARC1; p={dmarc_policy}; adkim=s; aspf=s; rua=mailto:{report}; ruf=mailto:{report}; fo=1",
            "DMARC policy, aggregate and failure reports",
        ),
        Record(
            f"_mta-sts.{domain}",
            "TXT",
            f"v=STSv1; id={hashlib.sha256(policy.encode()).hexdigest()[:20]}",
            "MTA-STS: the policy's id changes when the policy does",
        ),
        Record(f"mta-sts.{domain}", "CNAME", mx_host, "serves https://mta-sts.<domain>/.well-known/mta-sts.txt"),
        Record(f"_smtp._tls.{domain}", "TXT", f"v=TLSRPTv1; rua=mailto:{report}", "TLS-RPT: TLS failure reports"),
        Record(f"autoconfig.{domain}", "CNAME", mx_host, "Thunderbird autoconfiguration"),
        Record(f"autodiscover.{domain}", "CNAME", mx_host, "Outlook autodiscover"),
        Record(f"_submission._tcp.{domain}", "SRV", f"0 1 587 {mx_host}", "RFC 6186: submission"),
        Record(f"_imaps._tcp.{domain}", "SRV", f"0 1 993 {mx_host}", "RFC 6186: IMAP over TLS"),
    ]
    return out


def zone(recs: list[Record], policy: str | None = None) -> str:
    lines = ["; govmail dns: the records to publish (BIND zone syntax)"]
    for rec in recs:
        lines += [f"; {rec.why}", rec.zone_line()]
    if policy:
        lines += ["", "; serve this file as https://mta-sts.<domain>/.well-known/mta-sts.txt:"]
        lines += [f";   {line}" for line in policy.splitlines()]
    return "\n".join(lines) + "\n"


def _canonical(rtype: str, value: str) -> str:
    value = value.strip()
    if rtype in ("MX", "CNAME", "SRV"):
        return " ".join(value.lower().rstrip(".").split())
    if rtype == "TXT":
        return value
    return value.lower()


@dataclass(frozen=True)
class Difference:
    record: Record
    found: tuple[str, ...]

    @property
    def status(self) -> str:
        return "MISSING" if not self.found else "DIFFERENT"


def check(recs: list[Record], lookup: Callable[[str, str], list[str]]) -> list[Difference]:
    """The records the resolver does not answer as published (for TXT at a name with several, any one matches;
    SPF, DMARC, MTA-STS and TLS-RPT match on their version tag)."""
    out = []
    for rec in recs:
        found = tuple(_canonical(rec.rtype, v) for v in lookup(rec.name, rec.rtype))
        want = _canonical(rec.rtype, rec.value)
        if rec.rtype == "TXT":
            tag = want.split(";", 1)[0].split(" ", 1)[0]  # v=spf1, v=DKIM1, v=DMARC1 …
            found = tuple(v for v in found if v.split(";", 1)[0].split(" ", 1)[0] == tag)
        if want not in found:
            out.append(Difference(rec, found))
    return out
