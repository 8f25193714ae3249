"""The ``govmail`` commands of the request workflow: request, codeowners, check-scope, record,
history, sla, report, reply, import-form. Registered on the main parser by ``register``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from ..model.edits import EditError
from ..model.orgs import REASON_CODES
from ..ops import backups as ops_backups
from ..workflow import codeowners, forge, records, requests, sla
from ..workflow.gitlog import Git, GitError
from ..workflow.history import History, history_text
from ..workflow.scope import check_scope
from .common import DEFAULT_DIR, date_arg


def _who(args) -> dict:
    return {"address": args.address, "name": args.name, "org_id": args.org, "unit": args.unit}


def _report(outcome: requests.Outcome, write: bool) -> int:
    for line in outcome.lines:
        print(line)
    if not outcome.files:
        print("Nothing changed.")
    elif write:
        files = ", ".join(outcome.files)
        print(f"Wrote {len(outcome.files)} file(s): {files}. Validated; commit and open a pull request.")
    else:
        print(f"Would change {len(outcome.files)} file(s): {', '.join(outcome.files)} (--dry-run: nothing written).")
    return 0


def cmd_request(args) -> int:
    write = not args.dry_run
    try:
        if args.kind == "new":
            out = requests.request_new(
                args.dir,
                org_id=args.org,
                name=args.name,
                title=args.title,
                unit=args.unit,
                given_name=args.given_name,
                write=write,
            )
        elif args.kind == "reset":
            out = requests.request_reset(args.dir, who=_who(args), date=args.date, write=write)
        elif args.kind in ("suspend", "restore", "revoke"):
            reason = args.reason[0] if getattr(args, "reason", None) else None
            more = " ".join(args.reason[1:]) if reason and len(args.reason) > 1 else None
            out = requests.request_status(
                args.dir, kind=args.kind, who=_who(args), reason=reason, reason_more=more, date=args.date, write=write
            )
        else:
            out = requests.request_change(
                args.dir,
                who=_who(args),
                title=args.title,
                unit=args.new_unit,
                name=args.new_name,
                given_name=args.given_name,
                to_org=args.to_org,
                write=write,
            )
    except (requests.RequestError, EditError) as exc:
        print(f"govmail request {args.kind}: {exc}; nothing was written.", file=sys.stderr)
        return 1
    return _report(out, write)


def cmd_codeowners(args) -> int:
    texts = codeowners.generate(args.dir, args.repo)
    if args.check:
        stale = []
        for rel, text in texts.items():
            target = Path(args.repo) / rel
            have = target.read_text(encoding="utf-8") if target.is_file() else None
            if have != text:
                stale.append(str(target))
        if stale:
            print(
                f"{', '.join(stale)} out of date with the owners in {args.dir}: run `govmail codeowners --write`.",
                file=sys.stderr,
            )
            return 1
        print(f"{', '.join(texts)} up to date.")
        return 0
    if args.write:
        for rel, text in texts.items():
            target = Path(args.repo) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"Wrote {target}.")
    else:
        for rel, text in texts.items():
            sys.stdout.write(f"# --- {rel}\n{text}")
    return 0


def cmd_check_scope(args) -> int:
    try:
        verdicts = check_scope(
            Git(args.repo),
            args.author,
            args.base,
            head=args.head,
            accounts=args.dir,
            teams=tuple(t for t in (args.teams or "").split(",") if t),
        )
    except GitError as exc:
        print(f"govmail check-scope: {exc}", file=sys.stderr)
        return 2
    for v in verdicts:
        print(v)
    refused = [v for v in verdicts if not v.allowed]
    if refused:
        print(
            f"{len(refused)} file(s) outside the scope of {args.author}: a unit requests for its own accounts only "
            "(R10.5); ask TTCĐS or the owning unit.",
            file=sys.stderr,
        )
        return 1
    print(f"Scope: {len(verdicts)} file(s) changed, all within the scope of {args.author}.")
    return 0


def cmd_record(args) -> int:
    git = Git(args.repo)
    try:
        report = records.load_report(args.report)
        commit = records.record(git, report, args.commit, sign_key=args.sign_key)
    except (records.RecordError, GitError) as exc:
        print(f"govmail record: {exc}; nothing was recorded.", file=sys.stderr)
        return 1
    changes = report["changes"]
    failed = sum(1 for c in changes if c.get("result") == "failed")
    drift = sum(1 for c in changes if c.get("result") == "reported")
    print(
        f"Recorded the apply of {commit[:10]} ({len(changes)} change(s), {failed} failed, {drift} drift reported)"
        f" in {records.NOTES_REF}."
    )
    print(f"Publish it: git push origin {records.NOTES_REF}")
    return 0


def cmd_records_verify(args) -> int:
    try:
        git = Git(args.repo)
        trail = records.load(git, args.ref)
        if args.keeps:
            trail.problems += records.dropped(git, args.keeps)
    except GitError as exc:
        print(f"govmail records verify: {exc}", file=sys.stderr)
        return 2
    for problem in trail.problems:
        print(f"REFUSED {problem}", file=sys.stderr)
    count = len(trail.applies) + len(trail.requests) + sum(map(len, trail.refusals.values()))
    count += sum(map(len, trail.replies.values()))
    how = f"signed by a key in {records.SIGNERS}" if trail.signed else f"unsigned: {records.SIGNERS} names no key"
    if not args.quiet or trail.problems:
        print(f"{count} record(s) verify ({how}); {len(trail.problems)} do not.")
    return 1 if trail.problems else 0


def _forge(args) -> forge.Forge:
    return forge.Forge.from_env(args.forge)


def cmd_approval(args) -> int:
    git = Git(args.repo)
    try:
        f = _forge(args)
        if args.pr is not None:
            verdict = forge.judge(f, args.pr, forge.approvers_at(git, git.rev(args.ref), args.dir))
            print(("ok       " if verdict.ok else "REFUSED  ") + verdict.why())
            if args.set_status:
                f.set_status(verdict.request.head, verdict.ok, verdict.why())
            return 0 if verdict.ok else 1
        accept = {c: {"by": args.accepted_by, "why": args.why} for c in args.accept or []}
        if accept and not (args.accepted_by and args.why and args.why.strip()):
            raise forge.ForgeError("--accept needs --accepted-by (the approver) and --why")
        ok, lines = forge.check_merges(
            git, f, git.rev(args.commit), accounts=args.dir, sign_key=args.sign_key, write=args.record, accept=accept
        )
    except (forge.ForgeError, records.RecordError, GitError) as exc:
        print(f"govmail approval: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    if not ok:
        print("govmail approval: a merged request lacks an approver's approval of its final commit.", file=sys.stderr)
    return 0 if ok else 1


def cmd_doctor(args) -> int:
    try:
        findings = forge.doctor(_forge(args), args.branch)
    except forge.ForgeError as exc:
        print(f"govmail doctor: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    missing = [f for f in findings if not f.ok]
    tail = ", see docs/security.md." if missing else "."
    print(f"{len(findings) - len(missing)} of {len(findings)} settings in place{tail}")
    return 1 if missing else 0


def _history(args) -> History:
    return History(Git(args.repo), args.ref, args.dir)


def cmd_history(args) -> int:
    address = args.address.strip().lower()
    if "@" not in address:
        address += "@" + args.domain
    try:
        events = _history(args).of(address)
    except GitError as exc:
        print(f"govmail history: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps([e.as_dict() for e in events], ensure_ascii=False, indent=2))
    else:
        print(f"History of {address}")
        print(history_text(events))
    return 0 if events else 1


def _listed(args, state: str) -> list:
    """The forge's list of requests: an exported JSON file (--requests) or the forge's API (--forge)."""
    if args.requests:
        path = Path(args.requests)
        if path.stat().st_size > forge.MAX_BYTES * 4:
            raise forge.ForgeError(f"{path}: larger than {forge.MAX_BYTES * 4} bytes")
        try:
            return forge.listed(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise forge.ForgeError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
    return forge.listed(_forge(args).listed(state))


def cmd_sla(args) -> int:
    if args.open:
        if not (args.requests or args.forge):
            print("govmail sla --open: give --forge github|gitlab or --requests FILE", file=sys.stderr)
            return 2
        try:
            table = sla.unmerged(_listed(args, "open"), args.today or dt.date.today())
        except (forge.ForgeError, OSError) as exc:
            print(f"govmail sla: {exc}", file=sys.stderr)
            return 2
        if args.format == "json":
            print(json.dumps([r.as_dict() for r in table], ensure_ascii=False, indent=2))
        else:
            print(sla.open_text(table))
        return 1 if args.strict and any(r.late for r in table) else 0
    try:
        table = sla.rows(_history(args), since=args.since, until=args.until, today=args.today)
    except GitError as exc:
        print(f"govmail sla: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps([r.as_dict() for r in table], ensure_ascii=False, indent=2))
    else:
        print(sla.sla_text(table))
    return 1 if args.strict and any(r.late for r in table) else 0


def cmd_report(args) -> int:
    from ..workflow import report  # noqa: PLC0415 — matplotlib and reportlab only when a report is asked for

    try:
        quarter = report.Quarter.parse(args.quarter)
        listed = None
        if args.requests:
            listed = _listed(args, "all")
        elif args.forge:
            listed = _listed(args, "closed") + _listed(args, "open")
        data = report.build(_history(args), quarter, today=args.today, requests=listed)
        data.operations = ops_backups.summary(args.ops_dir)
    except (report.ReportError, GitError, forge.ForgeError, OSError, ops_backups.StatusError) as exc:
        print(f"govmail report: {exc}", file=sys.stderr)
        return 1
    text = report.markdown(data)
    out = Path(args.output or f"var/reports/bao-cao-{quarter}")
    out.parent.mkdir(parents=True, exist_ok=True)
    md, pdf = out.with_suffix(".md"), out.with_suffix(".pdf")
    md.write_text(text, encoding="utf-8")
    report.pdf(data, pdf)
    if args.print:
        print(text)
    print(f"Wrote {md} and {pdf}.")
    return 0


def cmd_import_form(args) -> int:
    from ..workflow import forms  # noqa: PLC0415 — python-docx and openpyxl only when a form is read

    write = not args.dry_run
    try:
        outcome, unmapped, form = forms.import_form(args.dir, args.form, args.org, args.date, write)
    except (requests.RequestError, EditError) as exc:
        print(f"govmail import-form: {exc}; nothing was written.", file=sys.stderr)
        return 1
    rows = sum(len(t.rows) for t in form.tables)
    print(f"{args.form}: {len(form.tables)} table(s), {rows} row(s)")
    if form.contact:
        print("Contact person: " + ", ".join(f"{k}: {v}" for k, v in form.contact.items()))
    _report(outcome, write)
    for row in unmapped:
        print(f"{args.form}: {row}", file=sys.stderr)
    if unmapped:
        print(f"{len(unmapped)} row(s) not mapped: make those requests by hand (govmail request …).", file=sys.stderr)
        return 1
    return 0


def cmd_reply(args) -> int:
    from ..workflow import reply  # noqa: PLC0415 — python-docx only when a letter is written

    if args.sent:
        try:
            sha = reply.record_sent(_history(args), args.target, args.sent, args.sent_number, args.sign_key)
        except (reply.ReplyError, records.RecordError, GitError) as exc:
            print(f"govmail reply: {exc}; nothing was recorded.", file=sys.stderr)
            return 1
        print(f"Recorded: the reply for {sha[:10]} was sent on {args.sent} ({records.NOTES_REF}).")
        print(f"Publish it: git push origin {records.NOTES_REF}")
        return 0
    try:
        found = reply.letters(_history(args), args.target)
    except (reply.ReplyError, GitError) as exc:
        print(f"govmail reply: {exc}", file=sys.stderr)
        return 1
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for letter in found:
        stem = out / f"tra-loi-{letter.commit[:10]}-{letter.org}"
        options = {
            "number": args.number,
            "issuer": args.issuer,
            "parent": args.parent,
            "signer": args.signer,
            "signer_title": args.signer_title,
        }
        written = []
        if args.format in ("docx", "both"):
            reply.write_docx(letter, stem.with_suffix(".docx"), **options)
            written.append(str(stem.with_suffix(".docx")))
        if args.format in ("pdf", "both"):
            reply.write_pdf(letter, stem.with_suffix(".pdf"), **options)
            written.append(str(stem.with_suffix(".pdf")))
        print(f"Wrote {' and '.join(written)}: {letter.org_name}, {len(letter.events)} account(s).")
    return 0


def _forge_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--forge", choices=("github", "gitlab"), help="read the requests through this forge's API")
    p.add_argument(
        "--requests", metavar="FILE", help="the forge's list of requests exported as JSON (GitHub pulls, GitLab MRs)"
    )


def _git_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", default=".", help="the repository (default: .)")
    p.add_argument("--ref", default="HEAD", help="the main line to read (default: HEAD; CI: origin/main)")
    p.add_argument("--dir", default=DEFAULT_DIR, help="the accounts directory inside the repository")


def _request_parsers(sub) -> None:
    p = sub.add_parser(
        "request",
        help="make a request (R7.2) by editing the right account file",
        description="Edit the unit's file for a request, validate the whole tree, allocate, write. "
        "On any error nothing is written.",
    )
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")

    def kind(name: str, text: str, who: bool = True) -> argparse.ArgumentParser:
        k = kinds.add_parser(name, help=text, description=text)
        k.add_argument("--dir", default=DEFAULT_DIR, help="the accounts directory (default: accounts)")
        k.add_argument("--dry-run", action="store_true", help="validate and show, write nothing")
        if who:
            k.add_argument("--address", help="the account's address (or its local part)")
            k.add_argument("--name", help="full name, with --org (and --unit when two people share a name)")
            k.add_argument("--org", help="the unit file's org id (skhcn, ninhphuoc …)")
            k.add_argument("--unit", help="the person's unit path inside the org, to tell namesakes apart")
            k.add_argument("--date", type=date_arg, help="date of the change (default: today)")
        k.set_defaults(func=cmd_request)
        return k

    k = kind("new", "a new personal account (name, position, unit); the address is allocated (Article 5)", who=False)
    k.add_argument("--org", required=True, help="the unit file's org id")
    k.add_argument("--name", required=True, help="full name with diacritics")
    k.add_argument("--title", required=True, help="position (chức vụ)")
    k.add_argument("--unit", help="unit path inside the org (ppc, ttytkvprtc/ptctc)")
    k.add_argument("--given-name", help="the given name when it is not the last word (Ê Đê names)")
    kind("reset", "a password reset: writes a new reset: token (the date, or date-2 …)")
    codes = ", ".join(REASON_CODES)
    k = kind("suspend", "suspend: the user cannot log in, mail is still delivered (R8.1)")
    k.add_argument("--reason", nargs="+", metavar="WORD", help=f"a code ({codes}) then optional text")
    kind("restore", "restore a suspended account (R8.3)")
    k = kind("revoke", "revoke: the mailbox is archived and the address retired for good (R8.2)")
    k.add_argument("--reason", nargs="+", metavar="WORD", required=True, help=f"a code ({codes}) then optional text")
    k = kind("change", "change of information: position, unit or name (the address never changes)")
    k.add_argument("--title", help="the new position")
    k.add_argument("--new-unit", help="the new unit path inside the org")
    k.add_argument("--new-name", help="the corrected or changed name; the address stays")
    k.add_argument("--given-name", help="the given name when it is not the last word")
    k.add_argument("--to-org", help="move the entry to another unit file (a transfer); the address stays")


def register(sub) -> None:
    """Add the workflow commands to the ``govmail`` parser's subcommands."""
    _request_parsers(sub)

    p = sub.add_parser(
        "codeowners",
        help="CODEOWNERS (GitLab, with sections) and .github/CODEOWNERS from the owners of each file and the approvers",
    )
    p.add_argument("--dir", default=DEFAULT_DIR)
    p.add_argument("--repo", default=".", help="repository root (default: .)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write the file")
    group.add_argument("--check", action="store_true", help="exit 1 when the file is missing or out of date (CI)")
    p.set_defaults(func=cmd_codeowners)

    p = sub.add_parser("check-scope", help="refuse a change that touches a unit the author does not own")
    p.add_argument("--author", required=True, help="the forge user who opened the pull request")
    p.add_argument("--teams", help="comma-separated teams the author belongs to (matched against owners too)")
    p.add_argument("--base", required=True, help="the target branch (origin/main)")
    p.add_argument("--head", default="HEAD")
    p.add_argument("--dir", default=DEFAULT_DIR)
    p.add_argument("--repo", default=".")
    p.set_defaults(func=cmd_check_scope)

    p = sub.add_parser("import-form", help="turn a filled-in Appendix form (.docx, .xlsx) into requests")
    p.add_argument("form", help="the form document")
    p.add_argument("--org", help="the requesting unit's org id (for unit cells that name a sub-unit)")
    p.add_argument("--date", type=date_arg, help="date of the changes (default: today)")
    p.add_argument("--dir", default=DEFAULT_DIR)
    p.add_argument("--dry-run", action="store_true", help="validate and show, write nothing")
    p.set_defaults(func=cmd_import_form)

    _audit_parsers(sub)


def _audit_parsers(sub) -> None:
    """record, history, sla, report: reading the trail."""
    p = sub.add_parser("record", help="keep an apply report in Git (a note on the applied commit)")
    p.add_argument("report", help="the JSON apply report written by the accounts playbook")
    p.add_argument("--commit", help="the applied commit (default: the report's commit, else HEAD)")
    p.add_argument("--repo", default=".")
    p.add_argument("--sign-key", help="the SSH private key that signs the record (docs/security.md)")
    p.set_defaults(func=cmd_record)

    _forge_parsers(sub)
    _reading_parsers(sub)


def _forge_parsers(sub) -> None:
    """records verify, approval, doctor: the audit record and the forge."""
    p = sub.add_parser("records", help="the audit record (refs/notes/govmail-apply)")
    rsub = p.add_subparsers(dest="records_cmd", required=True, metavar="COMMAND")
    v = rsub.add_parser("verify", help="check every record: JSON, tied to its commit, signed by a known key")
    v.add_argument("--repo", default=".")
    v.add_argument("--ref", default="HEAD", help="where .govmail/record-signers is read (default: HEAD)")
    v.add_argument("--quiet", action="store_true", help="say nothing when every record verifies")
    v.add_argument(
        "--keeps", metavar="NOTES_COMMIT", help="also refuse when a record of this earlier version of the notes is gone"
    )
    v.set_defaults(func=cmd_records_verify)

    forges = ("github", "gitlab")
    p = sub.add_parser(
        "approval",
        help="an approver approved the final commit: of a request (--pr), or of every merge up to a commit (--commit)",
        description="Reads the reviews through the forge's API (GitHub: GITHUB_REPOSITORY, GITHUB_TOKEN, "
        "GITHUB_API_URL; GitLab: CI_API_V4_URL, CI_PROJECT_ID, GOVMAIL_FORGE_TOKEN). The approvers are "
        "those of province.yaml at the base.",
    )
    p.add_argument("--forge", choices=forges, required=True)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--pr", type=int, help="the pull / merge request number (the status check)")
    target.add_argument("--commit", help="the merged commit about to be applied (the apply job)")
    p.add_argument("--set-status", action="store_true", help=f"GitHub: set the commit status {forge.STATUS_CONTEXT}")
    p.add_argument("--record", action="store_true", help="write the request records (or the refusal) as notes")
    p.add_argument("--sign-key", help="the SSH private key that signs the records")
    p.add_argument(
        "--accept",
        action="append",
        metavar="COMMIT",
        help="with --commit: let a refused commit through (an approver's decision, recorded with who and why)",
    )
    p.add_argument("--accepted-by", help="with --accept: the approver who decided")
    p.add_argument("--why", help="with --accept: why (e.g. 'reverted by #17')")
    p.add_argument("--ref", default="HEAD", help="with --pr: the base, where the approvers are read")
    p.add_argument("--dir", default=DEFAULT_DIR)
    p.add_argument("--repo", default=".")
    p.set_defaults(func=cmd_approval)

    p = sub.add_parser(
        "doctor", help="the forge's branch protection and approval settings: what is missing (docs/security.md)"
    )
    p.add_argument("--forge", choices=forges, required=True)
    p.add_argument("--branch", default="main")
    p.set_defaults(func=cmd_doctor)


def _reading_parsers(sub) -> None:
    """history, sla, reply, report: reading the trail."""
    p = sub.add_parser("history", help="the whole life of an account: requested, approved, applied, every change")
    p.add_argument("address", help="the address (or its local part)")
    p.add_argument("--domain", default="khanhhoa.gov.vn")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _git_args(p)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("sla", help="each request's received / approved / applied dates in working days (R7.2b)")
    p.add_argument("--since", type=date_arg, help="only requests received on or after this date")
    p.add_argument("--until", type=date_arg, help="only requests received on or before this date")
    p.add_argument("--today", type=date_arg, help="the date unapplied requests are measured against (default: today)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--strict", action="store_true", help="exit 1 when a request is past the deadline")
    p.add_argument("--open", action="store_true", help="the requests not merged yet, from the forge or --requests")
    _forge_source_args(p)
    _git_args(p)
    p.set_defaults(func=cmd_sla)

    p = sub.add_parser("reply", help="the reply document to the unit (R7.2b step 4), as DOCX")
    p.add_argument("target", help="the merge or squash commit, or the pull request number (#12)")
    p.add_argument("--number", default="      /TTCĐS-KT", help="the document number (Số: …)")
    p.add_argument("--issuer", default="Trung tâm Chuyển đổi số")
    p.add_argument("--parent", default="Sở Khoa học và Công nghệ", help="the issuer's parent body")
    p.add_argument("--signer", default="", help="the signer's name")
    p.add_argument("--signer-title", default="Giám đốc")
    p.add_argument("--output-dir", default="var/replies")
    p.add_argument("--format", choices=("docx", "pdf", "both"), default="docx")
    p.add_argument(
        "--sent",
        type=date_arg,
        metavar="DATE",
        help="record that the letter was sent on DATE (a note; sla measures to it) instead of writing it",
    )
    p.add_argument("--sent-number", metavar="SỐ", help="with --sent: the letter's number as sent")
    p.add_argument("--sign-key", help="with --sent: the SSH key that signs the record")
    _git_args(p)
    p.set_defaults(func=cmd_reply)

    p = sub.add_parser("report", help="the quarterly report (R9.1d) in Vietnamese, as Markdown and PDF")
    p.add_argument("--quarter", required=True, help="the quarter, e.g. 2026Q4")
    p.add_argument("--output", help="path without extension (default: var/reports/bao-cao-<quarter>)")
    p.add_argument("--today", type=date_arg, help="the report date for a quarter still running (default: today)")
    p.add_argument("--print", action="store_true", help="also print the Markdown")
    p.add_argument(
        "--ops-dir", default=ops_backups.DEFAULT_OPS_DIR, help="backup and restore-drill status (default: var/ops)"
    )
    _forge_source_args(p)
    _git_args(p)
    p.set_defaults(func=cmd_report)
