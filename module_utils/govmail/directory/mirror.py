"""A local copy of the directory's entries with a mail address, brought up to date on each run by
RFC 4533 content synchronisation (refreshOnly with the cookie of the last run; ``syncprov`` on the
server). docs/convergence.md tells how completeness is proven and when a full read happens.

The copy lives in the file cache's directory (``model/filecache.cache_dir``), one JSON file per
server URI, suffix and bind DN, mode 0600. It is only trusted together with the server's answer:
the cookie names the server's change sequence, and the suffix entry's entryUUID (read on every run)
must match the one the copy was taken from, so a directory rebuilt at the same address is read again
in full.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from .layout import ATTRIBUTES, Layout, split_entries
from .ldap_client import REPLACE, Directory, SyncState

FORMAT = "govmail-mirror/2"  # 2: entries carry govmailMailHost
SYNC_FILTER = "(mail=*)"
SYNC_ATTRIBUTES = [*ATTRIBUTES, "govmailManaged", "objectClass"]
# Written (always the same value) on the accounts branch when a pipelined apply left the
# contextCSN behind: see advance_context_csn.
ANCHOR = "Official mail accounts, managed by govmail"


def mirror_path(directory: Path, ldap: dict) -> Path:
    ident = "\0".join(str(ldap.get(k) or "") for k in ("server_uri", "base_dn", "bind_dn"))
    return directory / "directory" / f"{hashlib.sha256(ident.encode()).hexdigest()[:32]}.json"


def _suffix_uuid(directory: Directory, suffix: str) -> str | None:
    import ldap as libldap  # noqa: PLC0415

    try:
        found = directory.conn.search_s(suffix, libldap.SCOPE_BASE, "(objectClass=*)", ["entryUUID"])
    except libldap.LDAPError:
        return None
    return next((v.decode() for _, attrs in found for v in attrs.get("entryUUID", [])), None)


def _load(path: Path | None, database: str | None) -> SyncState | None:
    if path is None or database is None:
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT or saved.get("database") != database:
        return None
    return SyncState(saved["cookie"], {uuid: (dn, attrs) for uuid, (dn, attrs) in saved["entries"].items()})


def _save(path: Path | None, database: str | None, state: SyncState) -> None:
    if path is None or database is None:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # dumps: the C encoder (dump is pure Python)
            out.write(
                json.dumps(
                    {"format": FORMAT, "database": database, "cookie": state.cookie, "entries": state.entries},
                    ensure_ascii=False,
                )
            )
        os.replace(tmp, path)


def forget(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def _newest_csn(cookie: str) -> str | None:
    """The newest change sequence number a cookie (``rid=…,sid=…,csn=a;b``) covers."""
    for part in cookie.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "csn" and value:
            return max(value.split(";"))
    return None


def _complete(directory: Directory, suffix: str, cookie: str | None) -> bool:
    """The proof the refresh missed nothing: no entry it covers was changed after the newest change
    its cookie covers. (After a crash, syncprov may restart with a stale contextCSN and leave newer
    entries out of a refresh; such a refresh is not used.) Entries the refresh does not cover are
    left out of the proof: a write to one of them (a service identity's last-bind stamp) says
    nothing about the copy. Accounts are in it even without an address (one that lost it)."""
    import ldap as libldap  # noqa: PLC0415

    csn = _newest_csn(cookie or "")
    if csn is None:
        return False
    newer = f"(&(|{SYNC_FILTER}(objectClass=govmailAccount))(entryCSN>={csn})(!(entryCSN={csn})))"
    try:
        found = directory.conn.search_ext_s(suffix, libldap.SCOPE_SUBTREE, newer, ["1.1"], sizelimit=1)
    except libldap.SIZELIMIT_EXCEEDED:
        return False
    except libldap.LDAPError:
        return False
    return not [dn for dn, _ in found if dn]


def _refreshed(directory: Directory, suffix: str, state: SyncState) -> SyncState | None:
    import ldap as libldap  # noqa: PLC0415

    try:
        directory.refresh(suffix, SYNC_FILTER, SYNC_ATTRIBUTES, state)
    except (libldap.LDAPError, RuntimeError):
        return None  # refused (no syncprov, unknown cookie) or cut (limits)
    return state if _complete(directory, suffix, state.cookie) else None


def _synced(directory: Directory, layout: Layout, path: Path | None) -> tuple[SyncState | None, str]:
    """The copy brought up to date by a refresh and saved, and how (``read`` names the ways); None
    (and the saved copy forgotten) when no refresh can be used: the caller reads in full."""
    database = _suffix_uuid(directory, layout.suffix)
    saved = _load(path, database)
    cookie_before = saved.cookie if saved is not None else None
    state = _refreshed(directory, layout.suffix, saved) if saved is not None else None
    how = "sync"
    if state is None:
        how = "sync-full"
        fresh = SyncState()
        state = _refreshed(directory, layout.suffix, fresh)
        if state is None:  # "unproven" when the server did answer the refresh
            forget(path)
            return None, "paged-unproven" if fresh.cookie else "paged"
    if how != "sync" or state.changed or state.cookie != cookie_before:  # unchanged: the saved copy stands
        _save(path, database, state)
    return state, how


def read(directory: Directory, layout: Layout, path: Path | None) -> tuple[list[dict], dict[str, str], str]:
    """(managed accounts, unmanaged address → DN, how they were read).

    ``how`` is ``sync`` (changes since the saved cookie), ``sync-full`` (no usable copy, or the
    cookie refused: everything, by a refresh without a cookie), ``paged`` (no content
    synchronisation: a full paged read, nothing saved) or ``paged-unproven`` (the refresh answered
    but cannot be proven complete: a full paged read, nothing saved).
    """
    state, how = _synced(directory, layout, path)
    if state is None:
        current, unmanaged = split_entries(directory.search(layout.suffix, SYNC_FILTER, SYNC_ATTRIBUTES))
    else:
        current, unmanaged = split_entries(state.entries.values())
    return current, unmanaged, how


def advance_context_csn(directory: Directory, layout: Layout) -> None:
    """One more write, after every write of the run has been answered.

    syncprov moves the contextCSN (the newest change a refresh covers) past a write only when no
    write with an older CSN is still pending; when the writes of a pipeline finish out of order,
    it can stay behind the newest of them until the next write, and no refresh can be proven
    complete until then. This is that next write: the same value each time, on the accounts
    branch (not an account), so only its entryCSN and modifyTimestamp change."""
    directory.modify(layout.accounts_dn, {"description": (REPLACE, [ANCHOR])})


def refresh_after_apply(directory: Directory, layout: Layout, path: Path | None) -> None:
    """Bring the saved copy up to date after this run's own writes (so the next run reads little).
    Only the copy: when none can be saved, nothing is read in full here."""
    if path is None:
        return
    try:
        if _synced(directory, layout, path)[1] == "paged-unproven":
            advance_context_csn(directory, layout)
            _synced(directory, layout, path)
    except Exception:
        forget(path)
