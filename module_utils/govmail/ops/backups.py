"""The backups and restore drills as their status files record them, read as data (R9.2b).

``playbooks/backup.yml`` keeps each host's status on the controller as
``var/ops/backup-status-<host>.json`` (the job's own status file plus its list of archives); the restore
drill writes ``var/ops/restore-drill.json``. ``govmail backups`` lists the archives with their age and
the quarterly report quotes the last successful backup and the last drill. Files are parsed as JSON with
a size limit; a malformed file is reported by name, never trusted.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_OPS_DIR = "var/ops"
DRILL_FILE = "restore-drill.json"
MAX_STATUS_BYTES = 4 << 20


class StatusError(ValueError):
    pass


def _read(path: Path) -> dict:
    if path.stat().st_size > MAX_STATUS_BYTES:
        raise StatusError(f"{path}: larger than {MAX_STATUS_BYTES} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StatusError(f"{path}: not a status file: {exc}") from exc
    if not isinstance(data, dict):
        raise StatusError(f"{path}: not a status file (a JSON object is expected)")
    return data


def _time(value, where: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise StatusError(f"{where}: {value!r} is not a time") from exc
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@dataclass
class HostBackups:
    host: str
    last_success: dt.datetime | None
    last_attempt: dt.datetime | None
    last_outcome: str | None
    last_error: str | None
    archives: list[tuple[str, dt.datetime]] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    source: str = ""


@dataclass
class Drill:
    when: dt.datetime
    ok: bool
    figures: dict
    source: str


def load_hosts(ops_dir: str | Path) -> list[HostBackups]:
    hosts = []
    for path in sorted(Path(ops_dir).glob("backup-status-*.json")):
        data = _read(path)
        archives = []
        for item in data.get("archives") or []:
            if not isinstance(item, dict) or "name" not in item:
                raise StatusError(f"{path}: an archive without a name")
            archives.append((str(item["name"]), _time(item.get("time"), str(path))))
        last = data.get("last_archive") if isinstance(data.get("last_archive"), dict) else {}
        hosts.append(
            HostBackups(
                host=str(data.get("host") or path.stem.removeprefix("backup-status-")),
                last_success=_time(data.get("last_success"), str(path)),
                last_attempt=_time(data.get("last_attempt"), str(path)),
                last_outcome=data.get("last_outcome"),
                last_error=data.get("last_error"),
                archives=sorted(archives, key=lambda a: a[1] or dt.datetime.min.replace(tzinfo=dt.UTC)),
                figures={k: v for k, v in last.items() if isinstance(v, int | float | str) and k != "paths"},
                source=str(path),
            )
        )
    return hosts


def load_drill(ops_dir: str | Path) -> Drill | None:
    path = Path(ops_dir) / DRILL_FILE
    if not path.exists():
        return None
    data = _read(path)
    when = _time(data.get("finished"), str(path))
    if when is None:
        raise StatusError(f"{path}: no 'finished' time")
    figures = data.get("figures") if isinstance(data.get("figures"), dict) else {}
    return Drill(when=when, ok=data.get("ok") is True, figures=figures, source=str(path))


def _age(when: dt.datetime | None, now: dt.datetime) -> str:
    if when is None:
        return "never"
    hours = (now - when).total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.1f} days ago"


def lines(hosts: list[HostBackups], drill: Drill | None, now: dt.datetime) -> list[str]:
    out = []
    if not hosts:
        out.append("No backup status on the controller: run playbooks/backup.yml (or -e backup_list_only=true).")
    for h in hosts:
        state = h.last_outcome or "unknown"
        out.append(
            f"{h.host}: last success {h.last_success.isoformat() if h.last_success else 'never'} "
            f"({_age(h.last_success, now)}); last run {state}" + (f": {h.last_error}" if h.last_error else "")
        )
        for name, when in h.archives:
            out.append(f"  {name}  {when.isoformat() if when else '?'}  {_age(when, now)}")
    if drill:
        figures = ", ".join(f"{k} {v}" for k, v in drill.figures.items())
        out.append(
            f"restore drill: {'passed' if drill.ok else 'FAILED'} {drill.when.isoformat()} ({_age(drill.when, now)})"
            + (f": {figures}" if figures else "")
        )
    else:
        out.append("restore drill: none recorded")
    return out


def summary(ops_dir: str | Path) -> dict:
    """What the quarterly report quotes: the last successful backup over all hosts and the last drill."""
    hosts = load_hosts(ops_dir)
    drill = load_drill(ops_dir)
    successes = [(h.last_success, h.host) for h in hosts if h.last_success]
    last = max(successes) if successes else None
    return {
        "last_backup": last[0] if last else None,
        "last_backup_host": last[1] if last else None,
        "archives": sum(len(h.archives) for h in hosts),
        "drill": drill.when if drill else None,
        "drill_ok": drill.ok if drill else None,
        "drill_figures": drill.figures if drill else {},
    }
