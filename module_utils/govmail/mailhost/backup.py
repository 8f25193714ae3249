"""The backup job of a govmail host (R9.2b): borgbackup of the directory, the mail store and the state beside it.

Standard library only: the backup role installs this file on each host as ``govmail-backup`` and a
systemd timer runs ``govmail-backup run``. What one run does, in order:

1. ``slapcat`` of the configuration (``cn=config``) and of the data, when slapd is on the host;
2. the mail store, one consistent copy per account with ``doveadm backup`` into a staging maildir
   (incremental: only what changed since the last run is copied), when Dovecot is on the host;
3. Redis' state with ``redis-cli --rdb`` when a Redis server answers;
4. ``borg create`` of the staging directory and of every configured path that exists (DKIM keys,
   rspamd's state, the archives of revoked accounts), encrypted (repokey) and deduplicated;
5. ``borg prune`` by the documented schedule, then ``borg compact``;
6. the status file (JSON, read as data by ``govmail backups`` and the quarterly report) and a metrics
   file for the node exporter's textfile collector (``govmail_backup_last_success_timestamp_seconds``).

``govmail-backup list`` prints the archives with their age; ``extract``, ``restore-ldap`` and
``restore-mail`` are the steps ``playbooks/restore.yml`` runs on a fresh host. The passphrase is read
by borg from a root-only file (``BORG_PASSCOMMAND``): it never appears in argv, the environment or a log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_CONFIG = "/etc/govmail/backup.json"
# The staging and extraction directories: root's, but the mail user (doveadm's mail processes) may pass
# through them to its own 0700 subdirectory; nobody else may list them.
TRAVERSE_ONLY = 0o711


class BackupError(Exception):
    pass


def load_config(path: str | Path) -> dict:
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    missing = [k for k in ("repository", "passphrase_file", "staging_dir", "archive_prefix") if not config.get(k)]
    if missing:
        raise BackupError(f"{path}: missing {', '.join(missing)}")
    return config


def borg_env(config: dict) -> dict[str, str]:
    env = dict(os.environ)
    env["BORG_REPO"] = config["repository"]
    env["BORG_PASSCOMMAND"] = f"cat {config['passphrase_file']}"
    env.pop("BORG_PASSPHRASE", None)
    # The restore host reads the same repository under the same name: no interactive question.
    env["BORG_RELOCATED_REPO_ACCESS_IS_OK"] = "yes"
    env["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"] = "no"
    return env


def _run(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    allowed = (0, 1) if cmd[0] == "borg" else (0,)  # borg: 1 is a warning (a file changed while read)
    if result.returncode not in allowed:
        raise BackupError(f"{' '.join(cmd[:3])} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


# --- staging -----------------------------------------------------------------------------------
def stage_ldap(config: dict, staging: Path) -> dict:
    """slapcat of cn=config and of the data; empty dict when slapd is not on this host."""
    if not shutil.which("slapcat") or not Path(config.get("slapd_config_dir", "/etc/ldap/slapd.d")).is_dir():
        return {}
    folder = staging / "ldap"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    figures = {}
    for name, number in (("config", 0), ("data", int(config.get("ldap_data_database", 1)))):
        target = folder / f"{name}.ldif"
        partial = target.with_suffix(".ldif.part")
        _run(["slapcat", "-n", str(number), "-l", str(partial)])
        os.replace(partial, target)
        figures[f"ldap_{name}_entries"] = count_ldif_entries(target.read_text(encoding="utf-8"))
    return figures


def count_ldif_entries(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith("dn:"))


def mail_users(doveadm: str = "doveadm") -> list[str]:
    """Every account Dovecot iterates over (active and suspended: the userdb's iterate filter)."""
    out = _run([doveadm, "user", "*"])
    return sorted({line.strip() for line in out.splitlines() if "@" in line})


def stage_mail(config: dict, staging: Path) -> dict:
    """One ``doveadm backup`` per account into <staging>/mail/<address>; copies of gone accounts removed."""
    doveadm = config.get("doveadm", "doveadm")
    vmail = Path(config.get("vmail_home", "/var/vmail"))
    if not shutil.which(doveadm) or not vmail.is_dir():
        return {}
    folder = staging / "mail"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    owner = vmail.stat()
    os.chown(folder, owner.st_uid, owner.st_gid)  # doveadm writes the copy as the mail user
    users = mail_users(doveadm)
    for address in users:
        _run([doveadm, "backup", "-u", address, f"maildir:{folder / address}"])
    for stale in sorted(p for p in folder.iterdir() if p.name not in users):
        shutil.rmtree(stale)  # revoked: their mailbox lives on in the archive of revoked accounts
    messages = sum(count_messages(folder / a) for a in users)
    return {"mail_accounts": len(users), "mail_messages": messages}


def count_messages(maildir: Path) -> int:
    return sum(1 for p in maildir.rglob("*") if p.is_file() and p.parent.name in ("cur", "new"))


def stage_redis(config: dict, staging: Path) -> dict:
    cli = shutil.which("redis-cli")
    if not cli or not config.get("redis", True):
        return {}
    ping = subprocess.run([cli, "ping"], capture_output=True, text=True, check=False)
    if ping.returncode != 0 or "PONG" not in ping.stdout:
        return {}
    folder = staging / "redis"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _run([cli, "--rdb", str(folder / "dump.rdb")])
    return {"redis": True}


# --- borg --------------------------------------------------------------------------------------
def archive_name(config: dict, now: dt.datetime) -> str:
    return f"{config['archive_prefix']}{now:%Y-%m-%dT%H:%M:%SZ}"


def prune_args(keep: dict) -> list[str]:
    args = []
    for unit in ("within", "hourly", "daily", "weekly", "monthly", "yearly"):
        if keep.get(unit):
            args.append(f"--keep-{unit}={keep[unit]}")
    if not args:
        raise BackupError("the prune schedule keeps nothing: set backup__keep")
    return args


def list_archives(config: dict, now: dt.datetime | None = None) -> list[dict]:
    out = _run(
        ["borg", "list", "--json", "--glob-archives", f"{config['archive_prefix']}*"],
        env=borg_env(config),
    )
    return archives_with_age(json.loads(out), now)


def archives_with_age(borg_list: dict, now: dt.datetime | None = None) -> list[dict]:
    """``borg list --json`` → [{name, time (UTC ISO), age_hours}], oldest first."""
    now = now or dt.datetime.now(dt.UTC)
    rows = []
    for item in borg_list.get("archives", []):
        when = dt.datetime.fromisoformat(item["time"])  # local time of the host, naive
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
        rows.append(
            {
                "name": item["name"],
                "time": when.isoformat(timespec="seconds"),
                "age_hours": round((now - when).total_seconds() / 3600, 1),
            }
        )
    return sorted(rows, key=lambda r: r["time"])


def run_backup(config: dict, now: dt.datetime | None = None) -> dict:
    now = now or dt.datetime.now(dt.UTC)
    staging = Path(config["staging_dir"])
    staging.mkdir(parents=True, exist_ok=True)
    os.chmod(staging, TRAVERSE_ONLY)
    figures = {}
    figures |= stage_ldap(config, staging)
    figures |= stage_mail(config, staging)
    figures |= stage_redis(config, staging)
    paths = [str(staging)] + [p for p in config.get("paths", []) if Path(p).exists()]
    name = archive_name(config, now)
    env = borg_env(config)
    created = json.loads(
        _run(
            [
                "borg",
                "create",
                "--json",
                "--compression",
                config.get("compression", "zstd,3"),
                f"::{name}",
                *paths,
            ],
            env=env,
        )
    )
    _run(
        ["borg", "prune", "--glob-archives", f"{config['archive_prefix']}*", *prune_args(config.get("keep", {}))],
        env=env,
    )
    _run(["borg", "compact"], env=env)
    stats = created.get("archive", {}).get("stats", {})
    return {
        "archive": name,
        "paths": paths,
        "original_bytes": stats.get("original_size"),
        "deduplicated_bytes": stats.get("deduplicated_size"),
        **figures,
    }


def write_status(config: dict, record: dict, now: dt.datetime) -> dict:
    """Merge one run's outcome into the status file; the last success survives a failed run."""
    path = Path(config.get("status_file", "/var/lib/govmail/backup-status.json"))
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {}
    status["host"] = config.get("host") or os.uname().nodename
    status["last_attempt"] = now.isoformat(timespec="seconds")
    if record.get("error"):
        status["last_error"] = record["error"]
        status["last_outcome"] = "failed"
    else:
        status["last_outcome"] = "success"
        status["last_success"] = now.isoformat(timespec="seconds")
        status["last_archive"] = record
        status.pop("last_error", None)
    _write_atomic(path, json.dumps(status, ensure_ascii=False, indent=2) + "\n", 0o644)
    textfile = config.get("textfile")
    if textfile:
        _write_atomic(Path(textfile), metrics(status), 0o644)
    return status


def metrics(status: dict) -> str:
    """Prometheus text format for the node exporter's textfile collector."""
    lines = [
        "# HELP govmail_backup_last_success_timestamp_seconds End of the last successful backup.",
        "# TYPE govmail_backup_last_success_timestamp_seconds gauge",
    ]
    if status.get("last_success"):
        stamp = dt.datetime.fromisoformat(status["last_success"]).timestamp()
        lines.append(f"govmail_backup_last_success_timestamp_seconds {stamp:.0f}")
    lines += [
        "# HELP govmail_backup_last_run_failed 1 when the last backup run failed.",
        "# TYPE govmail_backup_last_run_failed gauge",
        f"govmail_backup_last_run_failed {1 if status.get('last_outcome') == 'failed' else 0}",
    ]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# --- restore -----------------------------------------------------------------------------------
def extract(config: dict, archive: str, target: Path) -> str:
    """Extract an archive (``latest``: the newest of this host's prefix) under ``target``; its name."""
    if archive == "latest":
        archives = list_archives(config)
        if not archives:
            raise BackupError(f"no archive {config['archive_prefix']}* in {config['repository']}")
        archive = archives[-1]["name"]
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, TRAVERSE_ONLY)
    _run(["borg", "extract", f"::{archive}"], env=borg_env(config), cwd=str(target))
    staging = target / config["staging_dir"].lstrip("/")
    for folder in [staging, *staging.parents]:
        if folder == target:
            break
        if folder.is_dir():
            os.chmod(folder, folder.stat().st_mode | TRAVERSE_ONLY)
    return archive


def restore_ldap(config: dict, source: Path) -> dict:
    """Load data.ldif into an empty data database (slapd must be stopped); the old files are set aside."""
    ldif = source / "ldap" / "data.ldif"
    if not ldif.is_file():
        raise BackupError(f"{ldif}: no directory data in this archive")
    db = Path(config.get("slapd_db_directory", "/var/lib/ldap"))
    aside = db.with_name(f"{db.name}.before-restore-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}")
    shutil.copytree(db, aside, symlinks=True)
    for item in db.iterdir():
        if item.suffix == ".mdb":
            item.unlink()
    number = str(int(config.get("ldap_data_database", 1)))
    _run(["slapadd", "-q", "-n", number, "-l", str(ldif)])
    shutil.chown(db, "openldap", "openldap")
    for item in db.iterdir():
        shutil.chown(item, "openldap", "openldap")
    return {"ldap_data_entries": count_ldif_entries(ldif.read_text(encoding="utf-8")), "set_aside": str(aside)}


def restore_mail(config: dict, source: Path) -> dict:
    """Each account's copy back into its mailbox with ``doveadm backup -R`` (the directory must be restored)."""
    doveadm = config.get("doveadm", "doveadm")
    folder = source / "mail"
    if not folder.is_dir():
        return {"mail_accounts": 0, "mail_messages": 0}
    vmail = Path(config.get("vmail_home", "/var/vmail")).stat()
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, vmail.st_uid, vmail.st_gid, follow_symlinks=False)
    restored, messages = [], 0
    for copy in sorted(p for p in folder.iterdir() if p.is_dir()):
        _run([doveadm, "backup", "-R", "-u", copy.name, f"maildir:{copy}"])
        restored.append(copy.name)
        messages += count_messages(copy)
    return {"mail_accounts": len(restored), "mail_messages": messages}


def restore_paths(config: dict, source: Path) -> list[str]:
    """Put back every configured path the archive holds (archives of revoked accounts, DKIM, rspamd)."""
    done = []
    for path in config.get("paths", []):
        held = source / path.lstrip("/")
        if held.exists():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _run(["cp", "-a", "--", f"{held}/." if held.is_dir() else str(held), path])
            done.append(path)
    redis = source / config["staging_dir"].lstrip("/") / "redis" / "dump.rdb"
    if redis.is_file() and config.get("redis_dump"):
        _run(["cp", "-a", "--", str(redis), config["redis_dump"]])
        shutil.chown(config["redis_dump"], "redis", "redis")
        done.append(config["redis_dump"])
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="govmail-backup", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="back up now (what the timer runs)")
    sub.add_parser("list", help="the archives of this host with their age, as JSON")
    p = sub.add_parser("extract", help="extract an archive under a directory")
    p.add_argument("--archive", default="latest")
    p.add_argument("--to", required=True)
    for name in ("restore-ldap", "restore-mail", "restore-paths"):
        p = sub.add_parser(name)
        p.add_argument("--from", dest="source", required=True, help="the directory an archive was extracted to")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        now = dt.datetime.now(dt.UTC)
        if args.command == "run":
            try:
                record = run_backup(config, now)
            except BackupError as exc:
                write_status(config, {"error": str(exc)}, now)
                raise
            result = write_status(config, record, dt.datetime.now(dt.UTC))
        elif args.command == "list":
            result = {"repository": config["repository"], "archives": list_archives(config, now)}
        elif args.command == "extract":
            result = {"archive": extract(config, args.archive, Path(args.to)), "to": args.to}
        else:
            source = Path(args.source) / config["staging_dir"].lstrip("/")
            if args.command == "restore-ldap":
                result = restore_ldap(config, source)
            elif args.command == "restore-mail":
                result = restore_mail(config, source)
            else:
                result = {"restored": restore_paths(config, Path(args.source))}
    except (BackupError, OSError, ValueError) as exc:
        print(f"govmail-backup: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
