"""Apply records: the JSON report of each apply, kept in Git as a note on the applied commit.

Notes live under ``refs/notes/govmail-apply`` (pushed and fetched like a branch). A commit's note
holds one record per line (compact JSON), so a re-run of the same commit adds a line and
never rewrites an earlier one. See docs/audit.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from .gitlog import Git

NOTES_REF = "refs/notes/govmail-apply"
FORMAT = "govmail-apply/1"
# Every op the accounts module can write (directory.plan.OPERATIONS; a test keeps the two equal).
OPS = ("create", "adopt", "update", "move", "reset", "suspend", "restore", "revoke", "drift")
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


def record(git: Git, report: dict, commit: str | None = None) -> str:
    """Attach the report to ``commit`` (default: the report's commit, else HEAD); returns the commit id."""
    target = git.rev(commit or report.get("commit") or "HEAD")
    if report.get("commit") and commit and git.rev(report["commit"]) != target:
        raise RecordError(f"the report is for commit {report['commit']}, not {commit}")
    line = json.dumps(report, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    existing = git.run("notes", f"--ref={NOTES_REF}", "show", target, check=False)
    lines = [entry for entry in existing.splitlines() if entry.strip()]
    if line in lines:
        return target  # recording the same report twice changes nothing
    lines.append(line)
    git.run("notes", f"--ref={NOTES_REF}", "add", "-f", "-F", "-", target, input="\n".join(lines) + "\n")
    return target


def records(git: Git) -> list[tuple[str, dict]]:
    """Every (applied commit, record), ordered by the time the apply finished."""
    listing = git.run("notes", f"--ref={NOTES_REF}", "list", check=False)
    out = []
    for row in listing.splitlines():
        _, commit = row.split()
        for line in git.run("notes", f"--ref={NOTES_REF}", "show", commit).splitlines():
            if line.strip():
                out.append((commit, json.loads(line)))
    return sorted(out, key=lambda item: (item[1].get("finished") or "", item[0]))
