"""The audit record: JSON records kept in Git as notes on main-line commits.

Notes live under ``refs/notes/govmail-apply`` (pushed and fetched like a branch). A commit's note
holds one record per line (compact JSON), so a re-run adds a line and never rewrites an earlier
one. Four kinds: the apply report (``govmail-apply/1``), the request as the forge saw it at merge
time (``govmail-request/1``: number, opened, author, approvers, merged), an apply refused for want
of an approval (``govmail-refused/1``) and the reply letter's sending (``govmail-reply/1``).

Tampering is made evident: the apply job signs every record with its SSH key (``ssh-keygen -Y
sign``); when ``.govmail/record-signers`` (an approvers-only path) names the keys, every reader
verifies each record and ignores, and reports, one that does not verify or that names another
commit than the one it is attached to. See docs/audit.md and docs/security.md.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .gitlog import Git

NOTES_REF = "refs/notes/govmail-apply"
FORMAT = "govmail-apply/1"
REQUEST_FORMAT = "govmail-request/1"  # who asked, who approved, when: from the forge at merge time
REFUSED_FORMAT = "govmail-refused/1"  # an apply refused for want of an approval, and why
ACCEPTED_FORMAT = "govmail-accepted/1"  # a refused commit let through by an approver, by name, and why
REPLY_FORMAT = "govmail-reply/1"  # when the reply letter was sent (R7.2b step 4)
SIGNERS = ".govmail/record-signers"  # ssh-keygen allowed_signers: the keys that sign records
NAMESPACE = "govmail-record"
IDENTITY = "govmail-apply"
# Every op the accounts module can write (directory.plan.OPERATIONS; a test keeps the two equal).
OPS = ("create", "adopt", "place", "update", "move", "reset", "suspend", "restore", "revoke", "drift")
# Results: ok/failed (applied), planned (check mode), reported (drift left alone, not a failure).
RESULTS = ("ok", "failed", "planned", "reported")
REQUIRED = ("format", "commit", "started", "finished", "check_mode", "accounts_dir", "summary", "changes")
CHANGE_REQUIRED = ("op", "address", "result")


class RecordError(ValueError):
    """An apply report that cannot be recorded; the message names the file and the field."""


def _secrets(data: object, path: str = "") -> list[str]:
    """Fields whose name says they hold a secret: none may be recorded."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if any(word in str(key).lower() for word in ("password", "passwd", "secret", "token")):
                found.append(here)
            found += _secrets(value, here)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _secrets(value, f"{path}[{index}]")
    return found


def check_report(data: object, name: str = "report") -> dict:
    """The report if it follows govmail-apply/1; RecordError naming the first wrong field otherwise."""
    if not isinstance(data, dict):
        raise RecordError(f"{name}: is not a JSON object")
    if data.get("format") != FORMAT:
        raise RecordError(f"{name}: format: expected {FORMAT!r}, got {data.get('format')!r}")
    for key in REQUIRED:
        if key not in data:
            raise RecordError(f"{name}: {key}: missing")
    if not isinstance(data["changes"], list):
        raise RecordError(f"{name}: changes: must be a list")
    for index, change in enumerate(data["changes"]):
        for key in CHANGE_REQUIRED:
            if not isinstance(change, dict) or key not in change:
                raise RecordError(f"{name}: changes[{index}].{key}: missing")
        if change["op"] not in OPS:
            raise RecordError(f"{name}: changes[{index}].op: {change['op']!r} is not one of {', '.join(OPS)}")
    secrets = _secrets(data)
    if secrets:
        raise RecordError(f"{name}: {secrets[0]}: a report must never carry a secret; refusing to record it")
    return data


def load_report(path: str | Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RecordError(f"{path}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
    return check_report(data, str(path))


def canonical(rec: dict) -> bytes:
    """The signed bytes of a record: its compact, sorted JSON without the signature."""
    body = {k: v for k, v in rec.items() if k != "signature"}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(rec: dict, key: str | Path) -> dict:
    """The record with an SSH signature (``ssh-keygen -Y sign``, namespace govmail-record) by ``key``."""
    proc = subprocess.run(
        ["ssh-keygen", "-q", "-Y", "sign", "-f", str(key), "-n", NAMESPACE],
        input=canonical(rec),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RecordError(f"cannot sign the record with {key}: {proc.stderr.decode(errors='replace').strip()}")
    return {**rec, "signature": proc.stdout.decode("ascii")}


def _verify_signature(rec: dict, signers: str) -> str | None:
    """None when the record carries a good signature by a key in ``signers``, else why not."""
    signature = rec.get("signature")
    if not isinstance(signature, str) or len(signature) > 8192:
        return "not signed"
    with tempfile.TemporaryDirectory(prefix="govmail-verify-") as tmp:
        allowed, sig = Path(tmp) / "allowed_signers", Path(tmp) / "record.sig"
        allowed.write_text(signers, encoding="utf-8")
        sig.write_text(signature, encoding="ascii", errors="replace")
        proc = subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", IDENTITY, "-n", NAMESPACE, "-s", str(sig)],
            input=canonical(rec),
            capture_output=True,
            check=False,
        )
    return None if proc.returncode == 0 else "bad signature (the record was changed, or signed by an unknown key)"


def add(git: Git, commit: str, rec: dict, sign_key: str | Path | None = None) -> bool:
    """Append one record to ``commit``'s note; False when the same record is already there."""
    if sign_key:
        rec = sign(rec, sign_key)
    line = json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    existing = git.run("notes", f"--ref={NOTES_REF}", "show", commit, check=False)
    lines = [entry for entry in existing.splitlines() if entry.strip()]
    same = [entry for entry in lines if _same(entry, rec)]
    if same:
        return False  # recording the same report twice changes nothing
    lines.append(line)
    git.run("notes", f"--ref={NOTES_REF}", "add", "-f", "-F", "-", commit, input="\n".join(lines) + "\n")
    return True


def _same(line: str, rec: dict) -> bool:
    try:
        return canonical(json.loads(line)) == canonical(rec)
    except (ValueError, AttributeError):
        return False


def record(git: Git, report: dict, commit: str | None = None, sign_key: str | Path | None = None) -> str:
    """Attach the report to ``commit`` (default: the report's commit, else HEAD); returns the commit id."""
    target = git.rev(commit or report.get("commit") or "HEAD")
    if report.get("commit") and commit and git.rev(report["commit"]) != target:
        raise RecordError(f"the report is for commit {report['commit']}, not {commit}")
    add(git, target, {**report, "commit": target}, sign_key)
    return target


@dataclass
class Trail:
    """Every record of the notes ref that verifies; ``problems`` lists the ones that do not."""

    applies: list[tuple[str, dict]] = field(default_factory=list)  # by finish time
    requests: dict[str, dict] = field(default_factory=dict)  # main-line commit → govmail-request/1
    refusals: dict[str, list[dict]] = field(default_factory=dict)
    accepted: dict[str, dict] = field(default_factory=dict)
    replies: dict[str, list[dict]] = field(default_factory=dict)  # merge commit → govmail-reply/1
    problems: list[str] = field(default_factory=list)
    signed: bool = False  # a signers file exists at the ref: every record must verify


def load(git: Git, ref: str = "HEAD") -> Trail:
    """Read and check every record: JSON, tied to the commit it is attached to, and — when
    ``.govmail/record-signers`` exists at ``ref`` — signed by one of those keys."""
    signers = git.show(ref, SIGNERS) if git.run("rev-parse", "--verify", "--quiet", ref, check=False).strip() else None
    trail = Trail(signed=bool(signers and signers.strip()))
    listing = git.run("notes", f"--ref={NOTES_REF}", "list", check=False)
    for row in listing.splitlines():
        _, commit = row.split()
        for number, line in enumerate(git.run("notes", f"--ref={NOTES_REF}", "show", commit).splitlines(), 1):
            if line.strip():
                _take(trail, commit, line, f"{NOTES_REF} {commit[:10]} line {number}", signers or "")
    trail.applies.sort(key=lambda item: (item[1].get("finished") or "", item[0]))
    return trail


def _take(trail: Trail, commit: str, line: str, where: str, signers: str) -> None:
    """File one line of a note in the trail, or its problem."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        trail.problems.append(f"{where}: not JSON")
        return
    if not isinstance(rec, dict):
        trail.problems.append(f"{where}: not a JSON object")
        return
    if rec.get("commit") and rec["commit"] != commit:
        trail.problems.append(f"{where}: the record names commit {str(rec['commit'])[:10]}, not this one")
        return
    why = _verify_signature(rec, signers) if trail.signed else None
    if why:
        trail.problems.append(f"{where}: {why}")
        return
    kind = rec.get("format")
    if kind == FORMAT:
        trail.applies.append((commit, rec))
    elif kind == REQUEST_FORMAT:
        trail.requests.setdefault(commit, rec)
    elif kind == REFUSED_FORMAT:
        trail.refusals.setdefault(commit, []).append(rec)
    elif kind == ACCEPTED_FORMAT:
        trail.accepted.setdefault(commit, rec)
    elif kind == REPLY_FORMAT:
        trail.replies.setdefault(commit, []).append(rec)
    else:
        trail.problems.append(f"{where}: unknown format {kind!r}")


def _lines_at(git: Git, notes_rev: str) -> set[tuple[str, str]]:
    """(annotated commit, record line) of every note in one version of the notes ref."""
    out = set()
    for row in git.run("ls-tree", "-r", notes_rev).splitlines():
        meta, path = row.split("\t", 1)
        commit = path.replace("/", "")
        for line in git.blob(meta.split()[2]).splitlines():
            if line.strip():
                out.add((commit, line))
    return out


def dropped(git: Git, before: str, after: str = NOTES_REF) -> list[str]:
    """Records present in the notes ref at ``before`` and missing at ``after``: the record only ever
    grows, so each one is a removal (a rewrite that a fast-forward push would otherwise hide)."""
    gone = _lines_at(git, before) - _lines_at(git, after)
    return sorted(f"{NOTES_REF} {commit[:10]}: a record present before is gone: {line[:80]}" for commit, line in gone)


def records(git: Git, ref: str = "HEAD") -> list[tuple[str, dict]]:
    """Every (applied commit, apply record) that verifies, ordered by the time the apply finished."""
    return load(git, ref).applies
