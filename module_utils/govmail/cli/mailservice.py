"""The ``govmail dns`` command of issue 12: the zone records to publish, and their check against a resolver.

Registered on the main parser by ``register`` (cli/main.py).
"""

from __future__ import annotations

import json
import sys

from ..mailhost import dns
from ..model.rules import load_valid
from .common import DEFAULT_DIR


def _resolver(address: str | None):
    """lookup(name, rtype) → presentation strings, through dnspython (the system resolver, or ADDRESS[:PORT])."""
    import dns.exception  # noqa: PLC0415 — only --check needs dnspython
    import dns.resolver  # noqa: PLC0415

    resolver = dns.resolver.Resolver(configure=address is None)
    if address:
        host, _, port = address.partition(":") if address.count(":") == 1 else (address, "", "")
        resolver.nameservers = [host]
        resolver.port = int(port or 53)
    resolver.lifetime = 10

    def lookup(name: str, rtype: str) -> list[str]:
        try:
            answer = resolver.resolve(name, rtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return []
        except dns.exception.Timeout as exc:
            raise OSError(f"the resolver did not answer for {name} {rtype}: {exc}") from None
        out = []
        for item in answer:
            if rtype == "TXT":
                out.append(b"".join(item.strings).decode("utf-8", "replace"))
            else:
                out.append(item.to_text())
        return out

    return lookup


def cmd_dns(args) -> int:
    domain = args.domain or load_valid(args.dir).province.domain
    pem = None
    if args.dkim_key:
        try:
            with open(args.dkim_key, encoding="ascii") as handle:
                pem = handle.read(16384)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"govmail dns: {args.dkim_key}: {exc}", file=sys.stderr)
            return 2
    try:
        recs = dns.records(
            domain,
            mx_host=args.mx_host,
            ipv4=tuple(args.ipv4),
            ipv6=tuple(args.ipv6),
            dkim_selector=args.dkim_selector,
            dkim_key_pem=pem,
            report_address=args.report_address,
            dmarc_policy=args.dmarc_policy,
        )
    except dns.DnsError as exc:
        print(f"govmail dns: {args.dkim_key or domain}: {exc}", file=sys.stderr)
        return 2
    if not args.check:
        if args.json:
            print(json.dumps([vars(r) for r in recs], ensure_ascii=False, indent=1))
        else:
            print(dns.zone(recs, dns.mta_sts_policy(args.mx_host or f"mail.{domain}")), end="")
        return 0
    try:
        differences = dns.check(recs, _resolver(args.resolver))
    except OSError as exc:
        print(f"govmail dns --check: {exc}", file=sys.stderr)
        return 2
    wrong = {id(d.record): d for d in differences}
    for rec in recs:
        d = wrong.get(id(rec))
        if d is None:
            print(f"OK        {rec.name} {rec.rtype}")
        else:
            print(f"{d.status:9} {rec.name} {rec.rtype}: want {rec.value!r}, resolver says {list(d.found)!r}")
    print(f"{len(recs) - len(differences)} of {len(recs)} record(s) published as expected")
    return 1 if differences else 0


def register(sub) -> None:
    p = sub.add_parser(
        "dns",
        help="the DNS records to publish (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, autoconfig); --check compares",
        description="Prints the zone records of the mail domain in BIND syntax. With --check, asks a resolver "
        "and exits 1 when a record is missing or different.",
    )
    p.add_argument("--dir", default=DEFAULT_DIR, help="the accounts directory, for the domain (default: accounts)")
    p.add_argument("--domain", help="the mail domain (default: accounts/province.yaml's)")
    p.add_argument("--mx-host", help="the mail host's name (default: mail.<domain>)")
    p.add_argument("--ipv4", action="append", default=[], help="the mail host's IPv4 address (repeatable)")
    p.add_argument("--ipv6", action="append", default=[], help="the mail host's IPv6 address (repeatable)")
    p.add_argument("--dkim-selector", default="govmail", help="DKIM selector (default: govmail, filter__dkim_selector)")
    p.add_argument(
        "--dkim-key",
        metavar="PEM",
        help="the DKIM public key the filter role wrote on the mail host "
        "(/var/lib/rspamd/dkim/<domain>.<selector>.pub)",
    )
    p.add_argument("--report-address", help="where DMARC and TLS reports go (default: postmaster@<domain>)")
    p.add_argument("--dmarc-policy", default="quarantine", choices=("none", "quarantine", "reject"))
    p.add_argument("--json", action="store_true", help="the records as JSON instead of a zone")
    p.add_argument("--check", action="store_true", help="compare with what the resolver returns; exit 1 on a mismatch")
    p.add_argument("--resolver", metavar="ADDRESS[:PORT]", help="the resolver --check asks (default: the system's)")
    p.set_defaults(func=cmd_dns)
