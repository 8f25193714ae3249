"""The ``govmail`` commands of operations (issue 12, R9.2): status, backups, notify-outage.

Registered on the main parser by ``register`` (cli/main.py). docs/operations.md tells when to use each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from email.header import Header
from email.mime.text import MIMEText
from pathlib import Path

from ..directory.layout import Layout
from ..directory.ldap_client import connect
from ..mailhost.smtp import SmtpChannel, deliver
from ..model.mailboxes import support_mailbox
from ..model.rules import load_valid
from ..ops import backups, outage, status
from ..workflow import sla
from ..workflow.gitlog import Git, GitError
from ..workflow.history import History
from .common import DEFAULT_DIR, add_ldap_arguments, date_arg, ldap_options


def _secret(env_file: str, env_value: str, path: str | None = None) -> str | None:
    path = path or os.environ.get(env_file)
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return os.environ.get(env_value)


def cmd_status(args) -> int:
    target = status.Target(
        host=args.host,
        smtp_port=args.smtp_port,
        submission_port=args.submission_port,
        imaps_port=args.imaps_port,
        ca_path=args.tls_ca,
        probe_user=args.probe_user,
        probe_password=_secret("GOVMAIL_PROBE_PW_FILE", "GOVMAIL_PROBE_PW", args.probe_pw_file),
        ldap=ldap_options(args, args.domain) if args.ldap else None,
        node_metrics=args.node_metrics,
        postfix_metrics=args.postfix_metrics,
        dovecot_metrics=args.dovecot_metrics,
        max_queue=args.max_queue,
        min_cert_days=args.min_cert_days,
        max_backup_age_hours=args.max_backup_age,
    )
    checks = status.Probe(target).run()
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks)} checks, {len(failed)} failed" + (": " + ", ".join(c.name for c in failed) if failed else ""))
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], ensure_ascii=False))
    return 1 if failed else 0


def cmd_backups(args) -> int:
    now = dt.datetime.now(dt.UTC)
    try:
        hosts = backups.load_hosts(args.ops_dir)
        drill = backups.load_drill(args.ops_dir)
    except (backups.StatusError, OSError) as exc:
        print(f"govmail backups: {exc}", file=sys.stderr)
        return 1
    for line in backups.lines(hosts, drill, now):
        print(line)
    if args.max_age is not None:
        stale = [
            h.host for h in hosts if not h.last_success or (now - h.last_success).total_seconds() > args.max_age * 3600
        ]
        if stale or not hosts:
            print(f"no successful backup within {args.max_age:g} h: {', '.join(stale) or 'no host'}", file=sys.stderr)
            return 1
    return 0


def cmd_notify_outage(args) -> int:
    tree = load_valid(args.dir)
    domain = tree.province.domain
    try:
        notice = outage.Outage.parse(args.start, args.end, args.reason)
    except outage.OutageError as exc:
        print(f"govmail notify-outage: {exc}; nothing was sent.", file=sys.stderr)
        return 1
    options = ldap_options(args, domain)
    with connect(**options) as directory:
        to = outage.recipients(directory, Layout(options["base_dn"]), args.unit or ())
    sender = args.sender or support_mailbox(tree)
    print(f"notice {notice.ident}: {outage.subject(notice)}")
    print(f"{len(to)} active account(s)" + (f" in {', '.join(args.unit)}" if args.unit else ""))
    if args.dry_run:
        for address in to:
            print(f"would send to {address}")
        return 0
    host, _, port = args.smtp.partition(":")
    channel = SmtpChannel(
        host=host,
        port=int(port or 25),
        starttls=args.smtp_starttls,
        ca_path=args.smtp_ca,
        username=os.environ.get("GOVMAIL_SMTP_USER"),
        password=os.environ.get("GOVMAIL_SMTP_PASSWORD"),
    )
    results = outage.send(
        notice,
        to,
        channel=channel,
        sender=sender,
        domain=domain,
        log=Path(args.log),
        batch_size=args.batch_size,
        pause=args.pause,
    )
    for r in results:
        print(f"{r['to']}: {r['result']}" + (f" (batch {r['batch']})" if r["batch"] else ""))
    failed = [r for r in results if r["result"].startswith("failed")]
    print(f"sent {sum(r['result'] == 'sent' for r in results)}, failed {len(failed)}; log: {args.log}")
    return 1 if failed else 0


def cmd_sla_digest(args) -> int:
    """``govmail sla --strict`` as a mail to the operator (TTCĐS): what the weekly timer sends."""
    try:
        table = sla.rows(History(Git(args.repo), args.ref, args.dir), since=args.since)
    except GitError as exc:
        print(f"govmail sla-digest: {exc}", file=sys.stderr)
        return 2
    late = [r for r in table if r.late]
    tree = load_valid(str(Path(args.repo) / args.dir))
    subject = (
        f"Thời hạn giải quyết đề nghị: {len(late)} đề nghị quá hạn" if late else "Thời hạn giải quyết đề nghị: đúng hạn"
    )
    msg = MIMEText(sla.sla_text(table) + "\n", "plain", "utf-8")  # Header: no space lost between encoded words
    msg["From"] = args.sender or support_mailbox(tree)
    msg["To"] = ", ".join(args.to)
    msg["Subject"] = Header(subject, "utf-8")
    host, _, port = args.smtp.partition(":")
    channel = SmtpChannel(
        host=host,
        port=int(port or 25),
        starttls=args.smtp_starttls,
        ca_path=args.smtp_ca,
        username=os.environ.get("GOVMAIL_SMTP_USER"),
        password=os.environ.get("GOVMAIL_SMTP_PASSWORD"),
    )
    error = deliver(channel, {"digest": msg})["digest"]
    if error:
        print(f"govmail sla-digest: {error}", file=sys.stderr)
        return 2
    print(f"sent to {', '.join(args.to)}: {len(table)} request(s), {len(late)} late")
    return 1 if late else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="check every service end to end; one line per check, exit 1 on a failure")
    p.add_argument("--host", default="127.0.0.1", help="the mail host (default: 127.0.0.1)")
    p.add_argument("--smtp-port", type=int, default=25)
    p.add_argument("--submission-port", type=int, default=587)
    p.add_argument("--imaps-port", type=int, default=993)
    p.add_argument("--tls-ca", help="CA certificate the services' certificates are checked against")
    p.add_argument("--probe-user", help="the account the IMAP check logs in as")
    p.add_argument("--probe-pw-file", help="its password (default: $GOVMAIL_PROBE_PW_FILE, $GOVMAIL_PROBE_PW)")
    p.add_argument("--domain", help="the mail domain, for the directory suffix (default: --base-dn)")
    add_ldap_arguments(p)
    p.add_argument("--node-metrics", metavar="URL", help="prometheus-node-exporter (the last backup)")
    p.add_argument("--postfix-metrics", metavar="URL", help="prometheus-postfix-exporter (the queue)")
    p.add_argument("--dovecot-metrics", metavar="URL", help="Dovecot's OpenMetrics endpoint")
    p.add_argument("--max-queue", type=int, default=50, help="most messages queued that is still OK (default 50)")
    p.add_argument("--min-cert-days", type=int, default=14, help="fewest days a certificate may have left (14)")
    p.add_argument("--max-backup-age", type=float, default=26.0, help="hours since the last backup (default 26)")
    p.add_argument("--json", action="store_true", help="also print the checks as JSON")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("backups", help="the backups of each host with their age, and the last restore drill")
    p.add_argument("--ops-dir", default=backups.DEFAULT_OPS_DIR, help="where playbooks/backup.yml keeps the status")
    p.add_argument("--max-age", type=float, help="exit 1 when a host has no successful backup within these hours")
    p.set_defaults(func=cmd_backups)

    p = sub.add_parser("notify-outage", help="mail a Vietnamese outage notice to every active account or units")
    p.add_argument("dir", nargs="?", default=DEFAULT_DIR)
    p.add_argument("--start", required=True, help="when the service stops, e.g. 2026-12-05T22:00")
    p.add_argument("--end", required=True, help="the expected recovery time")
    p.add_argument("--reason", required=True, help="why (in Vietnamese; it is quoted in the notice)")
    p.add_argument("--unit", action="append", help="only this org or unit path (repeatable; default: everyone)")
    add_ldap_arguments(p, required=True)
    p.add_argument("--smtp", default="127.0.0.1:25", metavar="HOST[:PORT]", help="mail server (default 127.0.0.1:25)")
    p.add_argument("--smtp-starttls", action="store_true", help="STARTTLS ($GOVMAIL_SMTP_USER/PASSWORD to log in)")
    p.add_argument("--smtp-ca", help="CA certificate of the mail server")
    p.add_argument("--sender", help="From: (default: the support mailbox of province.yaml)")
    p.add_argument("--batch-size", type=int, default=50, help="recipients per SMTP session (default 50)")
    p.add_argument("--pause", type=float, default=2.0, help="seconds between batches (default 2)")
    p.add_argument("--log", default="var/ops/outage-notices.log", help="JSON-lines log of who was sent what")
    p.add_argument("--dry-run", action="store_true", help="list the recipients, send nothing")
    p.set_defaults(func=cmd_notify_outage)

    p = sub.add_parser(
        "sla-digest", help="mail `govmail sla --strict` to the operator (the weekly job); exit 1 if late"
    )
    p.add_argument("--to", action="append", required=True, help="recipient (TTCĐS), repeatable")
    p.add_argument("--since", type=date_arg, help="only requests received on or after this date")
    p.add_argument("--smtp", default="127.0.0.1:25", metavar="HOST[:PORT]", help="mail server (default 127.0.0.1:25)")
    p.add_argument("--smtp-starttls", action="store_true", help="STARTTLS ($GOVMAIL_SMTP_USER/PASSWORD to log in)")
    p.add_argument("--smtp-ca", help="CA certificate of the mail server")
    p.add_argument("--sender", help="From: (default: the support mailbox of province.yaml)")
    p.add_argument("--repo", default=".", help="the repository (default: .)")
    p.add_argument("--ref", default="HEAD", help="the main line to read (default: HEAD)")
    p.add_argument("--dir", default=DEFAULT_DIR, help="the accounts directory inside the repository")
    p.set_defaults(func=cmd_sla_digest)
