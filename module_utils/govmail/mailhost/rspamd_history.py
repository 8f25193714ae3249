"""Outbound abuse in rspamd's own scan history (R4.2b, R8.2b): who was rate-limited, who sent spam or malware.

rspamd (the ``filter`` role) scans every message Postfix receives; its ``history_redis`` module keeps
each result in Redis and the controller serves them as JSON (``GET http://127.0.0.1:11334/history``)::

    {"version": 2, "rows": [{"unix_time": 1764670000, "user": "nvbinh@khanhhoa.gov.vn",
      "action": "soft reject", "symbols": {"GOVMAIL_RATELIMIT": {"score": 0.0, ...}, ...},
      "sender_smtp": "...", "subject": "...", ...}, ...]}

Only structure is read: the ``user`` field (the SASL login Postfix hands to rspamd; ``unknown`` for
mail from outside), the ``action`` rspamd took and the *names* of the symbols that fired. Envelope
and header senders, recipients and subjects are chosen by whoever sends the message, so they are
never read: a spammer cannot get another account flagged (or hide) by writing its address there.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

# Symbols the filter role configures (roles/filter/templates/etc/rspamd/local.d/).
RATELIMIT = "GOVMAIL_RATELIMIT"  # the account's sending limit deferred this message
VIRUS = "CLAM_VIRUS"  # clamd found malware
MAX_BYTES = 64 * 1024 * 1024  # a history larger than this is refused, not parsed
MAX_ROWS = 1_000_000


class HistoryError(ValueError):
    """The input is not an rspamd history."""


@dataclass
class Abuse:
    """What one authenticated account did, according to rspamd."""

    account: str
    messages: int = 0  # scanned messages sent by the account
    ratelimited: int = 0  # deferred by the sending limit
    spam: int = 0  # refused as spam (action reject without malware)
    malware: int = 0  # carried malware
    first: dt.datetime | None = None
    last: dt.datetime | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.ratelimited or self.spam or self.malware)

    def reasons(self) -> list[str]:
        out = []
        if self.ratelimited:
            out.append(f"over the sending limit {self.ratelimited}×")
        if self.spam:
            out.append(f"spam refused {self.spam}×")
        if self.malware:
            out.append(f"malware refused {self.malware}×")
        return out

    def as_dict(self) -> dict:
        return {
            "account": self.account,
            "messages": self.messages,
            "ratelimited": self.ratelimited,
            "spam": self.spam,
            "malware": self.malware,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
        }


@dataclass
class HistoryScan:
    rows: int = 0
    outbound: int = 0  # rows with an authenticated account
    accounts: dict[str, Abuse] = field(default_factory=dict)

    def flagged(self) -> list[Abuse]:
        return sorted((a for a in self.accounts.values() if a.flagged), key=lambda a: a.account)


def rows_of(text: str | bytes, source: str = "history") -> list:
    """The rows of a controller /history answer (or a bare JSON list of rows)."""
    if len(text) > MAX_BYTES:
        raise HistoryError(f"{source}: larger than {MAX_BYTES} bytes")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise HistoryError(f"{source}: not JSON: {exc}") from None
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise HistoryError(f"{source}: expected an object with a `rows` list (rspamd's /history)")
    if len(rows) > MAX_ROWS:
        raise HistoryError(f"{source}: more than {MAX_ROWS} rows")
    return rows


def scan(rows: list, since: dt.datetime | None = None, source: str = "history") -> HistoryScan:
    """Count, per authenticated account, its messages and the ones rspamd limited or refused."""
    out = HistoryScan()
    for number, row in enumerate(rows, start=1):
        out.rows += 1
        if not isinstance(row, dict):
            raise HistoryError(f"{source}: row {number}: not an object")
        user = row.get("user")
        if not isinstance(user, str) or user in ("", "unknown"):
            continue  # mail from outside: not an account's doing
        account = user.strip().lower()
        if "@" not in account or len(account) > 254 or any(c.isspace() for c in account):
            raise HistoryError(f"{source}: row {number}: user: not an address: {user[:80]!r}")
        stamp = row.get("unix_time")
        if not isinstance(stamp, int | float) or isinstance(stamp, bool):
            raise HistoryError(f"{source}: row {number}: unix_time: not a number")
        when = dt.datetime.fromtimestamp(stamp, tz=dt.UTC)
        if since and when < since:
            continue
        action = row.get("action")
        if not isinstance(action, str):
            raise HistoryError(f"{source}: row {number}: action: not a string")
        symbols = row.get("symbols") or {}
        if not isinstance(symbols, dict):
            raise HistoryError(f"{source}: row {number}: symbols: not an object")
        out.outbound += 1
        abuse = out.accounts.setdefault(account, Abuse(account))
        abuse.messages += 1
        abuse.first = min(abuse.first or when, when)
        abuse.last = max(abuse.last or when, when)
        if RATELIMIT in symbols:
            abuse.ratelimited += 1
        elif VIRUS in symbols:
            abuse.malware += 1
        elif action == "reject":
            abuse.spam += 1
    return out
