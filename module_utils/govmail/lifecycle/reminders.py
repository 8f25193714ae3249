"""Password-expiry reminders (R6.1: passwords change every 3 months).

A daily job: for every live, active account whose password was set by its holder (no reset
pending), the password expires at ``pwdChangedTime + pwdMaxAge`` of the account's policy (its
``pwdPolicySubentry``, else the default policy entry). Within 14 days of that, the person gets a
reminder with the password page's address — at most one per stage (14, 7 and 1 day(s) before),
remembered in the notices ledger so a second run the same day sends nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..directory.layout import MANAGED_FILTER, Layout
from ..directory.ldap_client import Directory, LdapError
from .clocks import VN
from .notices import Notice

STAGES = (14, 7, 1)  # days before expiry at which a reminder is due


@dataclass(frozen=True)
class Expiry:
    address: str
    name: str
    changed: dt.datetime
    expires: dt.datetime

    @property
    def expires_day(self) -> dt.date:
        """The day the password expires, in Vietnam (the directory's stamps are UTC)."""
        return self.expires.astimezone(VN).date()

    def days_left(self, today: dt.date) -> int:
        return (self.expires_day - today).days


def _one(attrs: dict, name: str):
    value = attrs.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _time(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value)
    return dt.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)


def max_age(directory: Directory, policy_dn: str, cache: dict) -> int:
    """pwdMaxAge (seconds) of a policy entry; 0 when it never expires or cannot be read."""
    if policy_dn not in cache:
        try:
            policy = directory.read(policy_dn, ["pwdMaxAge"], "(objectClass=pwdPolicy)") or {}
        except LdapError:
            policy = {}
        cache[policy_dn] = int(_one(policy, "pwdMaxAge") or 0)
    return cache[policy_dn]


def read_expiries(directory: Directory, layout: Layout, default_policy: str) -> list[Expiry]:
    """Every live, active account with a password its holder set, and when that password expires."""
    out, cache = [], {}
    attributes = ["mail", "cn", "govmailState", "pwdChangedTime", "pwdReset", "pwdPolicySubentry"]
    for _, attrs in directory.search(layout.accounts_dn, MANAGED_FILTER, attributes):
        address, changed = _one(attrs, "mail"), _time(_one(attrs, "pwdChangedTime"))
        state = _one(attrs, "govmailState") or "active"
        reset = str(_one(attrs, "pwdReset") or "").upper() == "TRUE"
        if not address or not changed or state != "active" or reset:
            continue  # suspended, or an initial password (changed at first login, R6.1), or no password
        age = max_age(directory, _one(attrs, "pwdPolicySubentry") or default_policy, cache)
        if age <= 0:
            continue
        out.append(Expiry(address.lower(), _one(attrs, "cn") or "", changed, changed + dt.timedelta(seconds=age)))
    return out


def due(expiries: list[Expiry], today: dt.date, window: int = 14) -> list[tuple[Expiry, int]]:
    """(expiry, stage) of each password expiring within ``window`` days (stage: 14, 7 or 1)."""
    out = []
    for item in expiries:
        left = item.days_left(today)
        if 0 <= left <= window:
            stage = min((s for s in STAGES if s >= left), default=STAGES[0])
            out.append((item, stage))
    return sorted(out, key=lambda pair: pair[0].address)


def notice(item: Expiry, today: dt.date, stage: int, web: str) -> Notice:
    left = item.days_left(today)
    day = item.expires_day.isoformat()
    body = (
        f"Kính gửi {item.name},\n\n"
        f"Mật khẩu của tài khoản thư điện tử công vụ {item.address} sẽ hết hạn vào ngày {day} (còn {left} ngày).\n"
        "Theo Điều 6, khoản 1 của Quy chế, mật khẩu phải được thay đổi 3 tháng một lần.\n"
        f"Vui lòng đổi mật khẩu tại {web} trước ngày đó. Mật khẩu mới dài ít nhất 8 ký tự, có chữ hoa,\n"
        "chữ thường, chữ số và ký tự đặc biệt, không chứa địa chỉ thư hay tên của bạn (Điều 6, khoản 2).\n"
        "Thư này do hệ thống gửi tự động; Trung tâm Chuyển đổi số không bao giờ hỏi mật khẩu của bạn.\n\n"
        f"The password of {item.address} expires on {day} ({left} days). Passwords change every 3 months\n"
        f"(R6.1): change it at {web}. Nobody will ever ask you for your password by e-mail.\n"
    )
    subject = f"Mật khẩu hết hạn ngày {day} / your password expires on {day}"
    return Notice(f"{day}:expiry-{stage}:{item.address}", item.address, subject, body)
