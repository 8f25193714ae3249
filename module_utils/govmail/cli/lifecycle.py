"""The ``govmail`` commands of issue 6: lifecycle scan, lock, abuse scan, reminders.

Registered on the main parser by ``register`` (cli/main.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shlex
import sys
from pathlib import Path

from ..directory import failover
from ..directory.delivery import PASSWORD_URL
from ..directory.layout import Layout
from ..directory.ldap_client import connect
from ..lifecycle import clocks as lifecycle
from ..lifecycle import lock, notices, reminders
from ..mailhost import mailog, rspamd_history
from ..model.mailboxes import support_mailbox
from ..model.rules import load_valid
from ..password_page import app as password_page
from ..workflow.gitlog import Git, GitError
from ..workflow.requests import RequestError
from .common import DEFAULT_DIR, add_ldap_arguments, date_arg, ldap_options


def _smtp_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smtp", metavar="HOST[:PORT]", help="send the notices through this mail server (default: none)")
    p.add_argument("--smtp-starttls", action="store_true", help="STARTTLS before sending")
    p.add_argument("--smtp-ca", help="CA certificate of the mail server")
    p.add_argument("--sender", help="From: of the notices (default: the support mailbox)")
    p.add_argument("--ledger", help="JSON file remembering the notices sent (default: none)")
    p.add_argument("--web", default=PASSWORD_URL, help=f"the password page's address (default: {PASSWORD_URL})")


def _channel(args):
    if not args.smtp:
        return None
    host, _, port = args.smtp.partition(":")
    return notices.channel_from_args(host, int(port or 25), args.smtp_starttls, args.smtp_ca)


def _send(args, tree, items: list[notices.Notice]) -> list[dict]:
    channel = _channel(args)
    if channel is None:
        for n in items:
            print(f"notice (not sent, no --smtp): {n.to}: {n.subject}")
        return []
    results = notices.send(channel, items, args.sender or support_mailbox(tree), notices.Ledger(args.ledger))
    for r in results:
        state = "already sent" if r.get("skipped") else ("sent" if r["error"] is None else f"FAILED: {r['error']}")
        print(f"notice to {r['to']}: {state}")
    return results


def _directory(args, tree):
    options = ldap_options(args, tree.province.domain)
    return connect(**failover.healthy(options)), Layout(options["base_dn"])


def cmd_lifecycle_scan(args) -> int:
    today = args.today or lifecycle.vn_today()
    tree = load_valid(args.dir)
    directory, layout = _directory(args, tree)
    with directory:
        activity = lifecycle.read_activity(directory, layout)
    try:
        lifecycle.check_base(args.dir, args.base)
        proposed = lifecycle.already_proposed(Git(args.dir), args.base, args.prefix)
        before = lifecycle.proposed_before(Git(args.dir), args.base, args.prefix)
        result = lifecycle.scan(tree, activity, today, proposed, warn_days=args.warn_days, before=before)
        if args.dry_run:
            proposal = lifecycle.Proposal(None, [], lifecycle.description(result, None), result)
        else:
            proposal = lifecycle.propose(args.dir, result, base=args.base, prefix=args.prefix)
    except (GitError, RequestError, lifecycle.LifecycleError) as exc:
        print(f"govmail lifecycle scan: {exc}; nothing was written.", file=sys.stderr)
        return 1
    print(proposal.description)
    for item, why in result.skipped:
        print(f"{item.where}: {item.address}: {item.op} skipped: {why}", file=sys.stderr)
    if args.description:
        Path(args.description).parent.mkdir(parents=True, exist_ok=True)
        Path(args.description).write_text(proposal.description, encoding="utf-8")
    if proposal.branch:
        print(f"Branch {proposal.branch}: {len(proposal.commits)} commit(s). Push it and open the pull request.")
    if result.warn:
        _send(args, tree, lifecycle.warning_notices(tree, result, args.web))
    if args.json:
        print(
            json.dumps(
                {
                    "branch": proposal.branch,
                    "commits": proposal.commits,
                    "suspend": [d.address for d in result.suspend],
                    "revoke": [d.address for d in result.revoke],
                    "warn": [d.address for d in result.warn],
                    "already": [d.address for d in result.already],
                    "dropped": [d.address for d in result.dropped],
                    "excused": [d.address for d in result.excused],
                    "skipped": [{"address": d.address, "where": d.where, "why": why} for d, why in result.skipped],
                }
            )
        )
    return 0


def cmd_lock(args) -> int:
    tree = load_valid(args.dir)
    options = ldap_options(args, tree.province.domain)
    code, more = args.reason[0], " ".join(args.reason[1:]) or None
    try:
        result = lock.lock(
            args.dir,
            options,
            args.address,
            reason=code,
            reason_more=more,
            today=args.today,
            doveadm=shlex.split(args.doveadm) if args.doveadm else None,
            commit=not args.no_commit,
        )
    except (RequestError, GitError) as exc:
        print(f"govmail lock: {exc}; nothing was written.", file=sys.stderr)
        return 1
    except lock.LockError as exc:
        print(f"govmail lock: {exc}", file=sys.stderr)
        return 1
    print(f"{result.address}: locked in the directory (suspended: {result.reason}; password replaced, reset pending)")
    if args.doveadm:
        state = f"error: {result.kick_error}" if result.kick_error else ("cut" if result.kicked else "none open")
        print(f"sessions: {state}")
    else:
        print("sessions: not cut here (no --doveadm): the playbook cuts them on the mail hosts")
    if result.commit:
        print(f"commit {result.commit}: push it now so Git is the record")
    elif result.files:
        print(f"wrote {', '.join(result.files)} (--no-commit): commit it now")
    else:
        print("the file already says suspended: nothing to commit")
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    return 1 if result.kick_error else 0


def cmd_password_page(args) -> int:
    domain = args.domain
    options = ldap_options(args, domain)
    reader_pw = os.environ.get("GOVMAIL_PASSWORD_PAGE_READER_PW", "")
    if args.reader_pw_file:
        reader_pw = Path(args.reader_pw_file).read_text(encoding="utf-8").strip()
    if not args.tls_cert and not args.plain_http:
        print("govmail password-page: give --tls-cert/--tls-key (or --plain-http behind a TLS proxy)", file=sys.stderr)
        return 1
    config = password_page.Config(
        ldap_uri=options["server_uri"],
        base_dn=options["base_dn"],
        domain=domain,
        ca_path=options["ca_path"],
        start_tls=options["start_tls"],
        reader_dn=args.reader_dn,
        reader_pw=reader_pw,
        secure_cookies=not args.plain_http or args.behind_tls_proxy,
        trust_proxy=args.behind_tls_proxy,
    )
    host, _, port = args.listen.rpartition(":")
    try:
        app = password_page.PasswordPage(config)
    except ValueError as exc:  # no verified TLS to the directory, or no reader: refuse to start
        print(f"govmail password-page: {exc}", file=sys.stderr)
        return 1
    server = password_page.make_server(app, host, int(port), args.tls_cert, args.tls_key)
    print(f"password page on {'https' if args.tls_cert else 'http'}://{args.listen}/password", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def cmd_reminders(args) -> int:
    today = args.today or lifecycle.vn_today()
    tree = load_valid(args.dir)
    directory, layout = _directory(args, tree)
    with directory:
        policy = args.policy_dn or f"cn=default,ou=policies,{layout.suffix}"
        expiring = reminders.due(reminders.read_expiries(directory, layout, policy), today, args.window)
    for item, stage in expiring:
        print(f"{item.address}: password expires {item.expires_day} ({item.days_left(today)} days; stage {stage})")
    if not expiring:
        print("No password expires within the window.")
    results = _send(args, tree, [reminders.notice(item, today, stage, args.web) for item, stage in expiring])
    if args.json:
        print(json.dumps({"due": [i.address for i, _ in expiring], "notices": results}, ensure_ascii=False))
    return 1 if any(r.get("error") for r in results) else 0


def _read_history(source: str, timeout: int = 30) -> bytes:
    """rspamd's history: a saved /history answer, or the controller's URL on the mail host."""
    if source.startswith(("http://", "https://")):
        import urllib.request  # noqa: PLC0415 — only this path needs it

        with urllib.request.urlopen(source, timeout=timeout) as response:
            return response.read(rspamd_history.MAX_BYTES + 1)
    with open(source, "rb") as handle:
        return handle.read(rspamd_history.MAX_BYTES + 1)


def cmd_abuse_scan(args) -> int:
    if not args.logfile and not args.rspamd_history:
        print("govmail abuse scan: give Postfix logs, --rspamd-history, or both", file=sys.stderr)
        return 2

    def lines():
        for path in args.logfile:
            with open(path, encoding="utf-8", errors="replace") as handle:
                yield from handle

    try:
        result = mailog.scan(lines(), args.limit, dt.timedelta(minutes=args.window_minutes), args.year)
        since = None
        if args.since_hours is not None:
            since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=args.since_hours)
        histories = [
            rspamd_history.scan(rspamd_history.rows_of(_read_history(src), src), since=since, source=src)
            for src in args.rspamd_history
        ]
    except (OSError, mailog.LogError, rspamd_history.HistoryError) as exc:
        print(f"govmail abuse scan: {exc}", file=sys.stderr)
        return 2
    flags = mailog.flagged(result, args.limit)
    why: dict[str, str] = {}
    if args.logfile:
        print(f"{', '.join(args.logfile)}: {result.lines} line(s), {result.messages} authenticated message(s), "
              f"{len(result.accounts)} account(s); limit {args.limit} per {args.window_minutes} min")  # fmt: skip
    for f in flags:
        why[f.account] = _vi_what(f, args.window_minutes)
        print(f"FLAG {f.account}: {_what(f, args.window_minutes)} "
              f"(total {f.total}, refused by the rate limit {f.refused})")  # fmt: skip
    abuse = []
    for src, history in zip(args.rspamd_history, histories, strict=True):
        print(f"{src}: {history.rows} scan(s), {history.outbound} from accounts, {len(history.accounts)} account(s)")
        for a in history.flagged():
            abuse.append(a)
            why.setdefault(a.account, f"rspamd: {', '.join(a.reasons())} (R4.2b, R8.2b)")
            print(f"FLAG {a.account}: {', '.join(a.reasons())} of {a.messages} message(s) "
                  f"from {a.first:%Y-%m-%d %H:%M} to {a.last:%Y-%m-%d %H:%M} UTC")  # fmt: skip
    locked = []
    if args.lock and why:
        tree = load_valid(args.dir)
        options = ldap_options(args, tree.province.domain)
        for account, text in why.items():
            try:
                done = lock.lock(args.dir, options, account, reason="compromised", reason_more=text,
                                 doveadm=shlex.split(args.doveadm) if args.doveadm else None)  # fmt: skip
            except (RequestError, GitError, lock.LockError) as exc:
                print(f"not locked {account}: {exc}", file=sys.stderr)
                continue
            locked.append(done.as_dict())
            print(f"LOCKED {account}: commit {done.commit}")
    if args.json:
        print(json.dumps({"flagged": [f.as_dict() for f in flags], "rspamd": [a.as_dict() for a in abuse],
                          "locked": locked}, ensure_ascii=False))  # fmt: skip
    return 3 if why else 0


def _what(f: mailog.Flag, minutes: int) -> str:
    if f.peak_start is None:  # flagged by the rate limit's refusals alone
        return f"refused {f.refused} time(s) by the sending limit"
    return f"{f.peak} messages in {minutes} min from {f.peak_start}"


def _vi_what(f: mailog.Flag, minutes: int) -> str:
    if f.peak_start is None:
        return f"bị giới hạn gửi thư từ chối {f.refused} lần (R4.2b)"
    return f"gửi {f.peak} thư trong {minutes} phút từ {f.peak_start:%Y-%m-%d %H:%M} (R4.2b)"


def register(sub) -> None:
    _register_lifecycle(sub)
    _register_lock(sub)
    _register_reminders(sub)
    _register_abuse(sub)
    _register_password_page(sub)


def _register_lifecycle(sub) -> None:
    p = sub.add_parser("lifecycle", help="the clocks of Article 8, proposed as a branch (R8.1, R8.2a)")
    lsub = p.add_subparsers(dest="lifecycle_command", required=True, metavar="ACTION")
    p = lsub.add_parser(
        "scan",
        help="propose suspension after 6 months without activity and revocation after 1 month suspended",
        description="Reads activity from the directory and proposes the changes as a branch with one commit per "
        "unit file; warns people and units 14 days ahead. Never writes to the directory.",
    )
    p.add_argument("dir", nargs="?", default=DEFAULT_DIR, help="the accounts directory (default: accounts)")
    add_ldap_arguments(p)
    p.add_argument("--today", type=date_arg, help="the date to run as (default: today); tests move the clock with it")
    p.add_argument("--base", default="HEAD", help="the branch the proposals start from (default: HEAD)")
    p.add_argument("--prefix", default="lifecycle", help="branch name prefix (default: lifecycle)")
    p.add_argument("--warn-days", type=int, default=14, help="warn this many days ahead (default: 14)")
    p.add_argument("--description", help="also write the pull-request description (Markdown) to this file")
    p.add_argument("--dry-run", action="store_true", help="show what is due; no branch, no commit")
    p.add_argument("--json", action="store_true", help="also print a JSON summary")
    _smtp_arguments(p)
    p.set_defaults(func=cmd_lifecycle_scan)


def _register_lock(sub) -> None:
    p = sub.add_parser(
        "lock",
        help="emergency lock (R8.2b): suspend in the directory at once, cut sessions, commit the change",
        description="Suspends the account in the directory now (a new random password nobody knows, reset "
        "pending), cuts its sessions, and commits the same suspension to its account file.",
    )
    p.add_argument("address", help="the account to lock")
    p.add_argument("--reason", nargs="+", default=["compromised"], metavar=("CODE", "TEXT"),
                   help="reason code and optional text (default: compromised)")  # fmt: skip
    p.add_argument("--dir", default=DEFAULT_DIR, help="the accounts directory (default: accounts)")
    add_ldap_arguments(p)
    p.add_argument("--today", type=date_arg, help="date of the suspension (default: today)")
    p.add_argument("--doveadm", help='command running doveadm on the mail host, e.g. "doveadm" or "ssh mail doveadm"')
    p.add_argument("--no-commit", action="store_true", help="write the file but do not commit it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lock)


def _register_reminders(sub) -> None:
    p = sub.add_parser(
        "reminders",
        help="mail people whose password expires within 14 days (R6.1)",
        description="Reads pwdChangedTime and the policy's pwdMaxAge; one reminder per stage (14, 7, 1 days).",
    )
    p.add_argument("dir", nargs="?", default=DEFAULT_DIR, help="the accounts directory (default: accounts)")
    add_ldap_arguments(p)
    p.add_argument("--today", type=date_arg, help="the date to run as (default: today)")
    p.add_argument("--window", type=int, default=14, help="days ahead (default: 14)")
    p.add_argument("--policy-dn", help="the default password policy entry (default: cn=default,ou=policies,BASE)")
    p.add_argument("--json", action="store_true")
    _smtp_arguments(p)
    p.set_defaults(func=cmd_reminders)


def _register_abuse(sub) -> None:
    p = sub.add_parser("abuse", help="outbound abuse (R4.2b, R8.2b)")
    asub = p.add_subparsers(dest="abuse_command", required=True, metavar="ACTION")
    p = asub.add_parser(
        "scan",
        help="flag accounts that went over the sending limit or sent spam/malware (rspamd history, Postfix log)",
        description="Exit 0: nobody flagged; 3: accounts flagged (locked with --lock); 2: the input cannot be read.",
    )
    p.add_argument("logfile", nargs="*", help="Postfix logs, oldest first")
    p.add_argument("--rspamd-history", action="append", default=[], metavar="FILE|URL",
                   help="rspamd's scan history: the controller's /history (http://127.0.0.1:11334/history on "
                   "the mail host) or a saved copy of it; repeatable")  # fmt: skip
    p.add_argument("--since-hours", type=float, metavar="HOURS",
                   help="count only the rspamd scans of the last HOURS hours")  # fmt: skip
    p.add_argument("--limit", type=int, default=100, help="messages per window above which an account is flagged")
    p.add_argument("--window-minutes", type=int, default=60)
    p.add_argument("--year", type=int, help="year of syslog time stamps without one (default: this year)")
    p.add_argument("--lock", action="store_true", help="lock every flagged account (govmail lock, reason compromised)")
    p.add_argument("--dir", default=DEFAULT_DIR, help="the accounts directory, for --lock")
    add_ldap_arguments(p)
    p.add_argument("--doveadm", help="command running doveadm on the mail host, for --lock")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_abuse_scan)


def _register_password_page(sub) -> None:
    p = sub.add_parser("password-page", help="serve the self-service password page (R6): WSGI, TLS")
    p.add_argument("--listen", default="127.0.0.1:8443", help="HOST:PORT (default: 127.0.0.1:8443)")
    p.add_argument("--domain", default="khanhhoa.gov.vn")
    add_ldap_arguments(p, required=True)
    p.add_argument("--reader-dn", help="read-only identity reading name and state (cn=mailserver)")
    p.add_argument("--reader-pw-file", help="its password (default: $GOVMAIL_PASSWORD_PAGE_READER_PW)")
    p.add_argument("--tls-cert", help="certificate chain (PEM)")
    p.add_argument("--tls-key", help="its private key (PEM)")
    p.add_argument("--plain-http", action="store_true", help="no TLS here (tests, or behind a TLS proxy)")
    p.add_argument(
        "--behind-tls-proxy", action="store_true", help="with --plain-http: cookies still Secure, client from X-Real-IP"
    )
    p.set_defaults(func=cmd_password_page)
