"""The ``govmail`` commands that share the directory with other systems and have units review
their lists: ``export`` (R9.2c), ``review send``, ``attest`` (R10.5)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..directory import export
from ..directory.ldap_client import connect
from ..lifecycle import review as review_mail
from ..mailhost.smtp import SmtpChannel
from ..model.mailboxes import unit_mailboxes
from ..model.rules import load_valid
from ..workflow import review
from ..workflow.gitlog import Git, GitError
from .common import DEFAULT_DIR, add_ldap_arguments, date_arg, ldap_options


def cmd_export(args) -> int:
    tree = load_valid(args.dir)
    text = export.export(tree, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8", newline="")
        print(f"Wrote {args.output}.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_review_send(args) -> int:
    tree = load_valid(args.dir)
    last = {}
    if args.ldap:
        with connect(**ldap_options(args, tree.province.domain)) as directory:
            last = review_mail.last_logins(directory, ldap_options(args, tree.province.domain)["base_dn"])
    channel = SmtpChannel(host=args.smtp, port=args.smtp_port, starttls=args.smtp_starttls, ca_path=args.ca)
    only = set(args.unit) if args.unit else None
    results = review_mail.send(
        tree, channel, args.quarter, last, today=args.today, request_url=args.request_url, only=only
    )
    for r in results:
        print(f"{r['unit']:<16} {r['to']:<40} {r['accounts']:>4} account(s)  {r['error'] or 'sent'}")
    if args.format == "json":
        print(json.dumps(results, ensure_ascii=False, indent=2))
    return 1 if any(r["error"] for r in results) else 0


def cmd_attest(args) -> int:
    tree = load_valid(args.dir)
    try:
        sha = review.attest(
            Git(args.repo),
            args.quarter,
            args.unit,
            args.answer,
            note=args.note or "",
            known_units=set(unit_mailboxes(tree)),
        )
    except (review.ReviewError, GitError) as exc:
        print(f"govmail attest: {exc}", file=sys.stderr)
        return 1
    print(f"Recorded: {args.unit} {args.answer} for {args.quarter.upper()} in commit {sha[:10]}.")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="the public directory (units, people: name, title, unit, address) as json, csv or vcard",
        description="The public directory for systems that cannot speak LDAP (R9.2c): never a state or a secret.",
    )
    p.add_argument("dir", nargs="?", default=DEFAULT_DIR)
    p.add_argument("--format", choices=sorted(export.FORMATS), default="json")
    p.add_argument("--output", "-o", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("review", help="the quarterly review of each unit's list (R10.5)")
    rsub = p.add_subparsers(dest="review_command", required=True, metavar="ACTION")
    s = rsub.add_parser("send", help="mail each unit its list, in Vietnamese, with a one-step way to answer")
    s.add_argument("dir", nargs="?", default=DEFAULT_DIR)
    s.add_argument("--quarter", required=True, help="e.g. 2026Q4")
    s.add_argument("--smtp", required=True, metavar="HOST", help="the MX or relay that delivers to the units")
    s.add_argument("--smtp-port", type=int, default=25)
    s.add_argument("--smtp-starttls", action="store_true")
    s.add_argument("--unit", action="append", help="only this unit (repeatable)")
    s.add_argument("--today", type=date_arg, help="the date the list is as of (default: today)")
    s.add_argument(
        "--request-url",
        help="a forge link that opens a prefilled request; {title} is replaced, e.g. https://…/issues/new?title={title}",
    )
    s.add_argument("--format", choices=["text", "json"], default="text")
    add_ldap_arguments(s)
    s.set_defaults(func=cmd_review_send)

    p = sub.add_parser("attest", help="record a unit's answer to the quarterly review in Git (R10.5)")
    p.add_argument("unit", help="the unit's id (its file's org id)")
    p.add_argument("--quarter", required=True, help="e.g. 2026Q4")
    p.add_argument("--answer", choices=sorted(review.ANSWERS), default="confirmed")
    p.add_argument("--note", help="what the unit said (e.g. the changes it asked for)")
    p.add_argument("--dir", default=DEFAULT_DIR, help="the account files (default: accounts)")
    p.add_argument("--repo", default=".", help="the Git repository (default: the current directory)")
    p.set_defaults(func=cmd_attest)
