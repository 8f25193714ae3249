"""Cut a user's IMAP sessions when their password changes, whatever the path (R6, issue 10 §6).

Someone who changes a leaked password must lock the thief out at once. Dovecot no longer caches
logins (``dovecot__auth_cache_size: 0``), so the old password stops opening new sessions the
moment slapd has the new one; this service ends the sessions already open. It runs on the mail
host (the ``dovecot`` role installs it with Debian's python3-ldap), reads the directory as the
read-only mail-server identity, and every few seconds asks for the accounts whose
``pwdChangedTime`` moved (ppolicy sets it on every change: the password page, ``ldappasswd``, a
raw LDAP modify, an operator's reset). For each it runs ``doveadm kick`` and
``doveadm auth cache flush`` for the address. Addresses are logged; passwords are never read.

    python3 session_guard.py --config /etc/govmail/session-guard.json
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import ldap
from ldap.controls import SimplePagedResultsControl


@dataclass
class Config:
    ldap_uri: str | list[str]  # one URI, or several (the nearest first): libldap tries them in order
    base_dn: str  # the live accounts (ou=accounts,…)
    bind_dn: str
    bind_pw: str = field(repr=False)
    start_tls: bool = False
    ca_path: str | None = None  # the directory's CA (else the system's): TLS is always verified
    interval: float = 5.0  # seconds between two looks
    doveadm: str = "/usr/bin/doveadm"


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def parse_stamp(text: str) -> dt.datetime:
    """A GeneralizedTime as slapd writes it (20261202170000Z, maybe with fractions)."""
    return dt.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)


def _first(value):
    return value[0] if isinstance(value, list) and value else (value or None)


class Guard:
    def __init__(self, config: Config, clock=lambda: dt.datetime.now(dt.UTC), log=print):
        self.config, self.clock, self.log = config, clock, log
        # Changes are looked for back to this margin (clock skew with the directory host, a slow round).
        self.margin = dt.timedelta(seconds=max(60.0, 3 * config.interval))
        # dn → pwdChangedTime already acted on. GeneralizedTime counts whole seconds: a second change
        # within the same second as one already acted on is not seen (its sessions were just cut).
        self.seen: dict[str, dt.datetime] = {}
        self.since = self.clock() - self.margin
        self.conn: ldap.ldapobject.SimpleLDAPObject | None = None

    def _connect(self) -> ldap.ldapobject.SimpleLDAPObject:
        """Bound as the reader; over TLS (ldaps:// or StartTLS) the certificate is always verified."""
        c = self.config
        conn = ldap.initialize(c.ldap_uri if isinstance(c.ldap_uri, str) else " ".join(c.ldap_uri))
        conn.protocol_version = 3
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 10)
        conn.timeout = 60  # the longest wait for any answer: a stuck directory is reconnected to
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        if c.ca_path:
            conn.set_option(ldap.OPT_X_TLS_CACERTFILE, c.ca_path)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: the options above take effect
        if c.start_tls:
            conn.start_tls_s()
        conn.simple_bind_s(c.bind_dn, c.bind_pw)
        return conn

    def _search(self, filter_text: str, attributes: list[str]):
        """(dn, attributes) of every match under base_dn, 500 a page (however many there are)."""
        page = SimplePagedResultsControl(True, size=500, cookie="")
        while True:
            msgid = self.conn.search_ext(
                self.config.base_dn, ldap.SCOPE_SUBTREE, filter_text, attributes, serverctrls=[page]
            )
            _, data, _, controls = self.conn.result3(msgid, timeout=self.conn.timeout)
            for dn, attrs in data:
                if dn is not None:  # referrals have no DN
                    yield dn, {k.lower(): [v.decode("utf-8", "replace") for v in vs] for k, vs in attrs.items()}
            cookie = next((c.cookie for c in controls if c.controlType == page.controlType), b"")
            if not cookie:
                return
            page.cookie = cookie

    def changed(self) -> list[tuple[str, str, dt.datetime]]:
        """(dn, address, pwdChangedTime) of passwords changed since the last look, not yet acted on."""
        if self.conn is None:
            self.conn = self._connect()
        look_from = self.since
        out = []
        for dn, attrs in self._search(
            f"(&(objectClass=govmailAccount)(pwdChangedTime>={stamp(look_from)}))", ["mail", "pwdChangedTime"]
        ):
            when, mail = _first(attrs.get("pwdchangedtime")), _first(attrs.get("mail"))
            if not when or not mail:
                continue
            when = parse_stamp(when)
            if self.seen.get(dn) == when:
                continue
            out.append((dn, mail, when))
        now = self.clock()
        self.since = now - self.margin
        self.seen = {dn: when for dn, when in self.seen.items() if when >= self.since}
        return out

    def act(self, dn: str, mail: str, when: dt.datetime) -> None:
        for args in (["kick", mail], ["auth", "cache", "flush", mail]):
            run = subprocess.run([self.config.doveadm, *args], capture_output=True, text=True, check=False)
            if run.returncode not in (0, 68):  # 68: nobody was logged in (EX_NOUSER)
                self.log(f"session-guard: doveadm {args[0]} {mail} failed: {run.stderr.strip()}")
                return  # not marked seen: tried again next round
        self.seen[dn] = when
        self.log(f"session-guard: password of {mail} changed at {stamp(when)}: sessions ended")

    def round(self) -> int:
        changes = self.changed()
        for change in changes:
            self.act(*change)
        return len(changes)

    def run_forever(self) -> None:
        while True:
            try:
                self.round()
            except Exception as exc:  # the directory restarted, a network hiccup: reconnect next round
                self.log(f"session-guard: {type(exc).__name__}: {exc}")
                if self.conn is not None:
                    with contextlib.suppress(ldap.LDAPError):
                        self.conn.unbind_s()
                self.conn = None
            time.sleep(self.config.interval)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="end IMAP sessions when a password changes")
    p.add_argument("--config", required=True, help="JSON: the keys of Config, bind_pw_file instead of bind_pw")
    args = p.parse_args(argv)
    data = json.loads(Path(args.config).read_text(encoding="utf-8"))
    data["bind_pw"] = Path(data.pop("bind_pw_file")).read_text(encoding="utf-8").strip()
    guard = Guard(Config(**data), log=lambda line: print(line, file=sys.stderr, flush=True))
    guard.log("session-guard: watching " + guard.config.base_dn)
    guard.run_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
