"""The mail side of moving a mailbox between backends (playbooks/move.yml, docs/cluster.md): what the
front still holds for it, and whether the new backend has everything the old one had.

The playbook runs the commands (``postqueue -j`` on the front, ``doveadm mailbox status`` on both
backends) and hands their output to these functions through the filters of filter_plugins/."""

from __future__ import annotations

import contextlib
import json

# Queues whose messages the queue manager has already routed (a message there may be on its way to
# the old backend); deferred and hold messages are routed again, by the new govmailMailHost.
ROUTED_QUEUES = ("active",)


class NotCopied(ValueError):
    """The new backend lacks messages the old one holds: the old copy must stay."""


def in_flight(postqueue_json: str, address: str) -> int:
    """Messages of ``postqueue -j`` (one JSON object a line) already routed and waiting to be
    delivered to ``address``."""
    address = address.lower()
    count = 0
    for raw in postqueue_json.splitlines():
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError:
            continue  # a line torn by a concurrent queue change: the next look reads it whole
        if item.get("queue_name") not in ROUTED_QUEUES:
            continue
        if any(str(r.get("address", "")).lower() == address for r in item.get("recipients") or []):
            count += 1
    return count


def counts(status_output: str) -> dict[str, int]:
    """``doveadm -f tab mailbox status -u ADDRESS messages '*'`` (a header line, then mailbox TAB
    count) → mailbox name → messages. (Called with the fields `mailbox messages` in that order.)"""
    out: dict[str, int] = {}
    lines = [line for line in status_output.splitlines() if line.strip()]
    for line in lines[1:] if lines and not lines[0].split("\t")[-1].strip().isdigit() else lines:
        name, _, number = line.rpartition("\t")
        if name and number.strip().isdigit():
            out[name] = int(number)
    return out


def check_copied(old: dict[str, int], new: dict[str, int]) -> dict:
    """Raise unless every mailbox of the old backend has at least as many messages on the new one
    (the new may hold more: mail delivered there since the flip). Returns the totals."""
    missing = {name: (count, new.get(name, 0)) for name, count in old.items() if new.get(name, 0) < count}
    if missing:
        what = ", ".join(f"{name}: {have} of {want}" for name, (want, have) in sorted(missing.items()))
        raise NotCopied(f"the new backend lacks messages ({what}); the old copy is kept")
    return {"old": sum(old.values()), "new": sum(new.values())}


# --- the commands, on the hosts (the modules govmail_move runs these) ------------------------------
DOVEADM = "doveadm"


def _run(argv: list[str], timeout: float = 600) -> str:
    import subprocess  # noqa: PLC0415 — only on the mail hosts

    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {result.returncode}: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def drain(address: str, wait: float = 120.0, postqueue: str = "postqueue", postfix: str = "postfix") -> int:
    """On the front: make Postfix route anew (``postfix reload``: its queue manager keeps the last
    address it resolved, so a stream of mail for one mailbox would keep the old backend), then wait
    (bounded) until no message already routed for ``address`` is waiting in the active queue; returns
    how many seconds it took. Then forget its cached login."""
    import time  # noqa: PLC0415

    _run([postfix, "reload"])
    start = time.monotonic()
    while in_flight(_run([postqueue, "-j"]), address):
        if time.monotonic() - start > wait:
            raise RuntimeError(f"messages routed for {address} still in the front's active queue after {wait:.0f} s")
        time.sleep(0.5)
    _run([DOVEADM, "auth", "cache", "flush", address])
    return round(time.monotonic() - start)


# doveadm sync's exit code when the mailbox changed under it (or the two sides' folders were made
# independently): run it again, as dsync itself says.
DESYNC = 2
# Seconds without any I/O after which a sync gives up (doveadm sync -T; its default is 600). Dovecot
# 2.3's two-way sync can stall for good while mail is being delivered on the remote side (seen in the
# cluster lab: "I/O has stalled, no activity for 600 seconds"); a stalled sync is run again.
STALL = 30
STALLED = ("I/O has stalled", "Timeout during state")


def _retryable(error: RuntimeError) -> bool:
    text = str(error)
    return f"exit {DESYNC}:" in text or any(mark in text for mark in STALLED)


def sync(address: str, target: str, port: int, *, attempts: int = 4, stall: int = STALL, runner=None) -> int:
    """On the old backend: two-way ``doveadm sync`` of the mailbox with the new backend's doveadm server
    (TLS). Two-way: what was delivered to either side since is kept; nothing is deleted on the new one.
    A desync (exit 2) or a stall (no I/O for ``stall`` seconds) is run again, a few times; dsync resumes
    from what both sides hold, so an interrupted run loses nothing. Returns the attempts it took."""
    run = runner or _run
    argv = [DOVEADM, "sync", "-T", str(stall), "-u", address, f"tcps:{target}:{port}"]
    for attempt in range(1, attempts):
        try:
            run(argv)
            return attempt
        except RuntimeError as exc:
            if not _retryable(exc):
                raise
    run(argv)  # the last attempt: whatever it raises stops the move
    return attempts


def kick(address: str) -> None:
    """End the mailbox's sessions here (clients reconnect through the proxy, to the new backend).
    doveadm exits non-zero when there was no session to end: that is not a failure."""
    with contextlib.suppress(RuntimeError):
        _run([DOVEADM, "kick", address])


def local_counts(address: str) -> dict[str, int]:
    return counts(_run([DOVEADM, "-f", "tab", "mailbox", "status", "-u", address, "messages", "*"]))


def retire(address: str, vmail_home: str, stamp: str) -> str | None:
    """Keep the old copy aside (``<home>/.moved/<address>-<stamp>``), out of Dovecot's way: the operator
    deletes it once the move is confirmed. Returns where it went (None: there was nothing)."""
    from pathlib import Path  # noqa: PLC0415

    local, _, domain = address.partition("@")
    home = Path(vmail_home) / domain / local
    if not home.exists():
        return None
    aside = Path(vmail_home) / ".moved" / f"{address}-{stamp}"
    aside.parent.mkdir(mode=0o700, exist_ok=True)
    home.rename(aside)
    return str(aside)
