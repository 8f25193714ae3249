"""Mailbox operations on the mail host: verified archives before revocation (R8.2d), cutting sessions.

Standard library only: this runs on the mail host through Ansible, next to Dovecot.
An archive is a dated ``.tar.gz`` of the account's maildir, taken through ``doveadm backup`` (a
consistent copy while Dovecot may be delivering) when the account still resolves, else straight
from the maildir; it is then re-read and compared, file by file, with what was copied.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

DOVEADM = "doveadm"


class ArchiveError(Exception):
    pass


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def _messages(files: dict[str, int]) -> int:
    return sum(1 for name in files if Path(name).parent.name in ("cur", "new"))


def _doveadm_copy(address: str, target: Path, doveadm: str) -> bool:
    """Copy the mailbox with ``doveadm backup``; False when Dovecot does not know the user any more."""
    if not shutil.which(doveadm):
        return False
    lookup = subprocess.run([doveadm, "user", address], capture_output=True, text=True, check=False)
    if lookup.returncode != 0:
        return False
    result = subprocess.run(
        [doveadm, "backup", "-u", address, f"maildir:{target}"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ArchiveError(f"doveadm backup -u {address} failed: {result.stderr.strip() or result.returncode}")
    return True


def archive(
    address: str, maildir: Path, archive_root: Path, today: dt.date | None = None, doveadm: str = DOVEADM
) -> dict:
    """Archive one mailbox and verify it; returns the archive record (idempotent per address and day)."""
    today = today or dt.datetime.now(dt.UTC).date()
    folder = archive_root / f"{today:%Y}"
    path = folder / f"{today:%Y%m%d}-{address}.tar.gz"
    checksum = path.with_name(path.name + ".sha256")
    if path.exists() and checksum.exists():
        expected = checksum.read_text(encoding="ascii").split()[0]
        if sha256_file(path) == expected:
            return _record(address, path, expected, created=False)
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    # doveadm writes the copy as the mail user, so the staging folder sits beside the maildirs and
    # belongs to their owner; the archive itself is written by root into the closed archive folder.
    staging_root = maildir.parent if maildir.parent.is_dir() else folder
    with tempfile.TemporaryDirectory(dir=staging_root, prefix=".govmail-archive-") as tmp:
        owner = staging_root.stat()
        os.chown(tmp, owner.st_uid, owner.st_gid)
        staging = Path(tmp) / address
        method = "doveadm backup" if _doveadm_copy(address, staging, doveadm) else None
        if method and not staging.exists():
            staging.mkdir()  # doveadm creates nothing for a mailbox that never received mail
        if method is None:
            if maildir.exists():
                shutil.copytree(maildir, staging, symlinks=True)
            else:
                staging.mkdir()  # never received anything: an empty archive still proves it
            method = "maildir copy"
        copied = _files(staging)
        partial = path.with_name("." + path.name + ".part")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(staging, arcname=address)
        with tarfile.open(partial, "r:gz") as tar:
            archived = {m.name.split("/", 1)[1]: m.size for m in tar.getmembers() if m.isfile() and "/" in m.name}
        if archived != copied:
            partial.unlink()
            raise ArchiveError(f"{address}: the archive does not hold what was copied; nothing is revoked")
        os.chmod(partial, 0o640)
        digest = sha256_file(partial)
        os.replace(partial, path)
        checksum.write_text(f"{digest}  {path.name}\n", encoding="ascii")
    record = _record(address, path, digest, created=True)
    record.update(method=method, messages=_messages(copied))
    return record


def _record(address: str, path: Path, digest: str, created: bool) -> dict:
    with tarfile.open(path, "r:gz") as tar:
        files = {m.name: m.size for m in tar.getmembers() if m.isfile()}
    return {
        "address": address,
        "path": str(path),
        "sha256": digest,
        "bytes": path.stat().st_size,
        "messages": sum(1 for n in files if Path(n).parent.name in ("cur", "new")),
        "verified": sha256_file(path) == digest,
        "created": created,
    }


def kick(addresses: list[str], doveadm: str = DOVEADM) -> list[str]:
    """Cut every IMAP/POP session of these accounts and forget their cached logins; returns who was kicked."""
    if not addresses or not shutil.which(doveadm):
        return []  # no Dovecot on this host: no sessions, no cache
    subprocess.run([doveadm, "auth", "cache", "flush", *addresses], capture_output=True, check=False)
    kicked = []
    for address in addresses:
        result = subprocess.run([doveadm, "kick", address], capture_output=True, text=True, check=False)
        if result.returncode == 0 and "kicked" in (result.stdout + result.stderr).lower():
            kicked.append(address)
    return kicked
