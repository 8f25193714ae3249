"""Outage notices (R9.2a): a Vietnamese notice with the expected recovery time to every active account,
or to the accounts of chosen units, from the support address, sent in batches and logged.

Recipients are read from the live directory (active accounts under ``ou=accounts``), so a suspended or
revoked address is never written to. Each batch is one SMTP session (``mailhost.smtp.deliver``). The
log (JSON lines) says who was sent which notice and with what result; a second run of the same notice
(same start, end and reason) sends only to those not yet sent to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..directory.layout import Layout, read_managed
from ..directory.ldap_client import Directory
from ..mailhost.smtp import SmtpChannel, deliver

MAX_REASON = 500


class OutageError(ValueError):
    pass


@dataclass(frozen=True)
class Outage:
    start: dt.datetime
    end: dt.datetime
    reason: str

    @classmethod
    def parse(cls, start: str, end: str, reason: str) -> Outage:
        times = []
        for name, text in (("start", start), ("end", end)):
            try:
                times.append(dt.datetime.fromisoformat(text.strip()))
            except ValueError as exc:
                raise OutageError(f"{name}: {text!r} is not a time like 2026-12-05T22:00") from exc
        reason = " ".join(reason.split())
        if not reason:
            raise OutageError("reason: empty; say why the service stops (it is in the notice)")
        if len(reason) > MAX_REASON:
            raise OutageError(f"reason: longer than {MAX_REASON} characters")
        if times[1] <= times[0]:
            raise OutageError(f"end {end} is not after start {start}")
        return cls(times[0], times[1], reason)

    @property
    def ident(self) -> str:
        text = f"{self.start.isoformat()}|{self.end.isoformat()}|{self.reason}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _vn(when: dt.datetime) -> str:
    return f"{when:%H} giờ {when:%M} ngày {when:%d/%m/%Y}"


def subject(outage: Outage) -> str:
    return f"Thông báo tạm ngừng dịch vụ thư điện tử công vụ từ {_vn(outage.start)}"


def body(outage: Outage, support: str, domain: str) -> str:
    hours = (outage.end - outage.start).total_seconds() / 3600
    return (
        "Kính gửi Quý cơ quan, đơn vị và cán bộ, công chức, viên chức,\n\n"
        f"Hệ thống thư điện tử công vụ @{domain} sẽ tạm ngừng hoạt động "
        f"từ {_vn(outage.start)} đến {_vn(outage.end)} (khoảng {hours:g} giờ).\n"
        f"Lý do: {outage.reason}.\n\n"
        f"Thời gian dự kiến khôi phục dịch vụ: {_vn(outage.end)}.\n\n"
        "Trong thời gian này, Quý vị tạm thời không đăng nhập, đọc và gửi thư được. Thư từ bên ngoài gửi đến "
        "sẽ được máy chủ gửi giữ lại và chuyển tới khi dịch vụ hoạt động trở lại; không có thư nào bị mất.\n\n"
        f"Mọi thắc mắc xin liên hệ bộ phận hỗ trợ: {support}.\n\n"
        "Trân trọng thông báo.\n"
        "Bộ phận quản trị hệ thống thư điện tử công vụ\n"
    )


def recipients(directory: Directory, layout: Layout, units: Iterable[str] = ()) -> list[str]:
    """Active accounts of the live tree; with ``units``, only those whose org or unit path is one of them."""
    wanted = {u.strip().strip("/") for u in units if u.strip()}
    found = []
    for account in read_managed(directory, layout):
        if not account["in_live_tree"] or account["status"] != "active" or not account["address"]:
            continue
        if wanted:
            places = {account.get("org") or "", account.get("unit") or ""}
            unit = account.get("unit") or ""
            places |= {"/".join(unit.split("/")[: i + 1]) for i in range(unit.count("/") + 1)}
            if not places & wanted:
                continue
        found.append(account["address"].lower())
    return sorted(set(found))


def message(outage: Outage, to: str, sender: str, domain: str) -> MIMEText:
    # email.header.Header splits the Vietnamese subject into encoded words with the spaces inside them;
    # EmailMessage's folding (Python 3.11) drops the space between two encoded words ("thưđiện").
    msg = MIMEText(body(outage, sender, domain), "plain", "utf-8")
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = Header(subject(outage), "utf-8")
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["X-Govmail-Notice"] = f"outage {outage.ident}"
    return msg


def already_sent(log: Path, ident: str) -> set[str]:
    sent = set()
    if not log.exists():
        return sent
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("notice") == ident and entry.get("result") == "sent":
            sent.add(str(entry.get("to")))
    return sent


def send(
    outage: Outage,
    to: list[str],
    *,
    channel: SmtpChannel,
    sender: str,
    domain: str,
    log: Path,
    batch_size: int = 50,
    pause: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict]:
    """Send in batches of ``batch_size`` (one SMTP session each, ``pause`` seconds apart); log every recipient."""
    if batch_size < 1:
        raise OutageError("batch size must be at least 1")
    done = already_sent(log, outage.ident)
    todo = [a for a in to if a not in done]
    log.parent.mkdir(parents=True, exist_ok=True)
    results = [{"to": a, "batch": None, "result": "already sent"} for a in to if a in done]
    for number, first in enumerate(range(0, len(todo), batch_size), start=1):
        if number > 1 and pause:
            sleep(pause)
        batch = todo[first : first + batch_size]
        outcome = deliver(channel, {a: message(outage, a, sender, domain) for a in batch})
        with log.open("a", encoding="utf-8") as handle:
            for address in batch:
                error = outcome.get(address)
                entry = {
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "notice": outage.ident,
                    "start": outage.start.isoformat(),
                    "end": outage.end.isoformat(),
                    "reason": outage.reason,
                    "subject": subject(outage),
                    "from": sender,
                    "to": address,
                    "batch": number,
                    "result": "sent" if error is None else f"failed: {error}",
                }
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
                results.append({"to": address, "batch": number, "result": entry["result"]})
    return results
