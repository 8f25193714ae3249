"""Outbound abuse in the Postfix log: accounts that sent more than the limit in any hour (R4.2b, R8.2b).

Postfix logs one ``sasl_username=`` line per message accepted from an authenticated client::

    Nov 28 10:00:01 mail postfix/submission/smtpd[812]: 4F3A2C01: client=x[10.0.0.5], sasl_method=PLAIN,
        sasl_username=nvbinh@khanhhoa.gov.vn

(traditional syslog time, the year given by ``--year``) or with an RFC 3339 time stamp
(``2026-11-28T10:00:01.123+07:00 mail postfix/…``). The scan keeps, per account, the highest number
of messages inside any window (default one hour) and flags the accounts above the limit; the
rate-limit service's own refusals (program ``govmail-ratelimit``, its log file) are flagged too.
Lines are parsed by structure (time, host, program[pid], message): words a client can put into a
message, such as an envelope sender, never make a line count as another program's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field

# Every line is read by structure: a time stamp, the host, the program and its pid, then that program's
# own message. Only the program field says who wrote a line: text inside a message (an envelope sender,
# a reply quoted by Postfix) is the client's and never counts as another program's word.
SYSLOG = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) ")
RFC3339 = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) ")
HEADER = re.compile(r"(?P<host>\S+) (?P<program>[\w./-]+)\[(?P<pid>\d+)\]: (?P<message>.*)\Z")
SMTPD = re.compile(r"postfix(?:-[\w]+)?/(?:[\w-]+/)?smtpd\Z")
# smtpd's line for a message accepted from an authenticated client (its whole message, nothing more).
SASL = re.compile(
    r"(?P<queue>[0-9A-Za-z]+): client=[^\s,]+, sasl_method=[\w-]+, sasl_username=(?P<user>[^\s,]+)"
    r"(?:, sasl_sender=[^\s,]*)?\Z"
)
# The rate-limit service's own refusal line, as its log file writes it (program govmail-ratelimit).
REFUSED = re.compile(r"over limit sasl_username=(?P<user>[^\s,]+) messages=\d+ recipients=\d+ window=\d+s client=\S+\Z")
MAX_LINE = 8192  # a longer line is not a Postfix line; it is skipped, never searched
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, start=1)}


class LogError(ValueError):
    """The log cannot be read as a Postfix log."""


@dataclass
class Flag:
    account: str
    peak: int = 0  # most messages inside one window
    peak_start: dt.datetime | None = None
    total: int = 0
    refused: int = 0  # refusals by the rate-limit service

    def as_dict(self) -> dict:
        return {
            "account": self.account,
            "peak": self.peak,
            "peak_start": self.peak_start.isoformat() if self.peak_start else None,
            "total": self.total,
            "refused": self.refused,
        }


def timestamp(line: str, year: int) -> dt.datetime | None:
    match = RFC3339.match(line)
    if match:
        stamp = match["stamp"].replace("Z", "+00:00")
        when = dt.datetime.fromisoformat(stamp)
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    match = SYSLOG.match(line)
    if match:
        hour, minute, second = (int(x) for x in match["time"].split(":"))
        return dt.datetime(year, MONTHS[match["mon"]], int(match["day"]), hour, minute, second, tzinfo=dt.UTC)
    return None


@dataclass
class Scan:
    lines: int = 0
    messages: int = 0
    accounts: dict[str, Flag] = field(default_factory=dict)


def scan(lines, limit: int, window: dt.timedelta = dt.timedelta(hours=1), year: int | None = None) -> Scan:
    """Peak messages per account in any ``window``; the flagged accounts are those with peak > limit."""
    year = year or dt.date.today().year
    out = Scan()
    recent: dict[str, deque] = defaultdict(deque)
    seen_queue: set[tuple[str, str]] = set()
    for raw in lines:
        out.lines += 1
        if len(raw) > MAX_LINE:
            continue
        line = raw.rstrip("\n")
        stamp = RFC3339.match(line) or SYSLOG.match(line)
        header = HEADER.match(line, stamp.end()) if stamp else None
        if header is None:
            if "sasl_username=" in line and "smtpd[" in line:
                raise LogError(f"line {out.lines}: a sasl_username line without a time stamp I can read: {line[:80]!r}")
            continue
        program, message = header["program"], header["message"]
        if program == "govmail-ratelimit":
            refused = REFUSED.match(message)
            if refused:
                user = refused["user"].lower()
                out.accounts.setdefault(user, Flag(user)).refused += 1
            continue
        if not SMTPD.match(program):
            continue
        match = SASL.match(message)
        if not match:
            continue
        when = timestamp(line, year)
        user = match["user"].lower()
        if (user, match["queue"]) in seen_queue:
            continue
        seen_queue.add((user, match["queue"]))
        out.messages += 1
        flag = out.accounts.setdefault(user, Flag(user))
        flag.total += 1
        times = recent[user]
        times.append(when)
        while times and times[0] <= when - window:
            times.popleft()
        if len(times) > flag.peak:
            flag.peak, flag.peak_start = len(times), times[0]
    return out


def flagged(result: Scan, limit: int) -> list[Flag]:
    return sorted(
        (f for f in result.accounts.values() if f.peak > limit or f.refused), key=lambda f: (-f.peak, f.account)
    )
