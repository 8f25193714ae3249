"""The self-service password page (R6.1, R6.2): a small WSGI application (standard library and python-ldap).

One form: address, current (or initial) password, new password twice. The page binds to the
directory *as the user* and changes the password with the password modify extended operation
(RFC 3062), so slapd's ppolicy applies history, ageing and quality, and works for an account whose
password must be changed (``pwdReset``) or has just expired (grace binds). Before that the new
password is checked against R6.2 (``passwords.quality_problems``: length, classes, not the address,
not a word of the name) so the person gets a precise reason.

No account enumeration: an unknown address and a wrong password get the same message, after the
same work (a search by the reader, then a bind: to the account, or to a decoy entry with a password
hashed like everyone's). Failed sign-ins are rate-limited per client address, and per address from
that client, so nobody can lock someone else out; the throttle's memory is bounded. The directory
must be reached over TLS with its certificate verified (or over the loopback), and the page
refuses to start otherwise; when the reader cannot read the account the change is refused (fail
closed). The form carries a CSRF token (double-submit cookie, SameSite=Strict) and the Origin is
checked. Vietnamese by default, English with ``?lang=en``. docs/password-page.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import html
import ipaddress
import json
import re
import secrets
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _make

import ldap

from ..model.passwords import quality_problems

LOCAL = re.compile(r"^[a-z0-9]+(?:\.[a-z0-9]+)*$")
MAX_FIELD = 256

TEXT = {
    "vi": {
        "title": "Đổi mật khẩu thư điện tử công vụ",
        "intro": "Đăng nhập bằng mật khẩu hiện tại (hoặc mật khẩu khởi tạo) rồi đặt mật khẩu mới. "
        "Mật khẩu khởi tạo phải được đổi ở lần đăng nhập đầu tiên; mật khẩu được đổi 3 tháng một lần (Điều 6).",
        "policy": "Mật khẩu mới phải có:",
        "rules": [
            "ít nhất 8 ký tự",
            "chữ hoa, chữ thường và chữ số",
            "ký tự đặc biệt như ! @ # % $ * & ^",
            "không chứa địa chỉ thư hay tên của bạn; không trùng 5 mật khẩu gần nhất",
        ],
        "address": "Địa chỉ thư",
        "current": "Mật khẩu hiện tại hoặc mật khẩu khởi tạo",
        "new": "Mật khẩu mới",
        "confirm": "Nhập lại mật khẩu mới",
        "submit": "Đổi mật khẩu",
        "other": "English",
        "bad_login": "Địa chỉ hoặc mật khẩu hiện tại không đúng. Vui lòng thử lại.",
        "throttled": "Quá nhiều lần thử. Vui lòng đợi 15 phút rồi thử lại.",
        "mismatch": "Hai lần nhập mật khẩu mới không giống nhau.",
        "weak": "Mật khẩu mới chưa đạt yêu cầu: cần",
        "same": "Mật khẩu mới phải khác mật khẩu hiện tại.",
        "history": "Mật khẩu mới trùng một mật khẩu đã dùng gần đây. Hãy chọn mật khẩu khác.",
        "too_young": "Mật khẩu vừa được đổi. Mỗi ngày chỉ được đổi một lần (trừ lần đổi bắt buộc).",
        "refused": "Thư mục từ chối mật khẩu mới",
        "suspended": "Tài khoản đang bị tạm ngưng. Liên hệ đơn vị hoặc hotrothudientu@khanhhoa.gov.vn.",
        "csrf": "Phiên làm việc đã hết hạn. Vui lòng tải lại trang và thử lại.",
        "unavailable": "Hệ thống tạm thời không kết nối được thư mục. Vui lòng thử lại sau.",
        "done": "Đã đổi mật khẩu. Từ nay hãy dùng mật khẩu mới cho hộp thư (webmail, IMAP, gửi thư).",
        "problems": {
            "at least 8 characters": "ít nhất 8 ký tự",
            "an upper-case letter": "một chữ hoa",
            "a lower-case letter": "một chữ thường",
            "a digit": "một chữ số",
            "a special character such as ! @ # % $ * & ^": "một ký tự đặc biệt như ! @ # % $ * & ^",
            "not the address": "không chứa địa chỉ thư",
            "not a word of the name": "không chứa tên của bạn",
        },
    },
    "en": {
        "title": "Change your official e-mail password",
        "intro": "Sign in with your current (or initial) password, then choose a new one. An initial password "
        "must be changed at first login; passwords are changed every 3 months (Article 6).",
        "policy": "The new password must have:",
        "rules": [
            "at least 8 characters",
            "upper-case and lower-case letters and a digit",
            "a special character such as ! @ # % $ * & ^",
            "neither your address nor your name; none of your last 5 passwords",
        ],
        "address": "E-mail address",
        "current": "Current or initial password",
        "new": "New password",
        "confirm": "New password again",
        "submit": "Change password",
        "other": "Tiếng Việt",
        "bad_login": "Wrong address or current password. Please try again.",
        "throttled": "Too many attempts. Please wait 15 minutes and try again.",
        "mismatch": "The two new passwords differ.",
        "weak": "The new password is not acceptable: it needs",
        "same": "The new password must differ from the current one.",
        "history": "The new password was used recently. Choose another one.",
        "too_young": "The password was changed less than a day ago. It may change once a day (except a forced change).",
        "refused": "The directory refused the new password",
        "suspended": "This account is suspended. Contact your unit or hotrothudientu@khanhhoa.gov.vn.",
        "csrf": "Your session expired. Reload the page and try again.",
        "unavailable": "The directory cannot be reached right now. Please try again later.",
        "done": "Your password has been changed. Use the new one for your mailbox from now on.",
        "problems": {},
    },
}

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}"
    "h1{font-size:1.4rem}label{display:block;margin-top:.8rem;font-weight:600}"
    "input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}"
    "button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}"
    ".error{background:#fde8e8;border-left:4px solid #c81e1e;padding:.6rem}"
    ".ok{background:#e7f6ec;border-left:4px solid #0e7a38;padding:.6rem}.policy{background:#f3f4f6;padding:.6rem}"
)


@dataclass
class Config:
    ldap_uri: str
    base_dn: str
    domain: str = "khanhhoa.gov.vn"
    ca_path: str | None = None
    start_tls: bool = False
    reader_dn: str | None = None  # read-only identity to read the name and state (cn=mailserver)
    reader_pw: str | None = field(default=None, repr=False)
    secure_cookies: bool = True
    trust_proxy: bool = False  # behind nginx on the same host: the client is X-Real-IP
    max_per_address: int = 5  # failed sign-ins per address, from one client, per window
    max_per_client: int = 20  # failed sign-ins per client address per window
    window: int = 900  # seconds
    max_keys: int = 10000  # addresses/clients the throttle remembers at most (oldest forgotten first)
    decoy_dn: str | None = None  # entry bound for unknown addresses (default cn=decoy,ou=services,<base>)

    def check(self) -> None:
        """Refuse a configuration that would send passwords unverified (the page does not start)."""
        url = urllib.parse.urlsplit(self.ldap_uri)
        if url.scheme not in ("ldap", "ldaps", "ldapi"):
            raise ValueError(f"ldap_uri {self.ldap_uri!r}: ldap://, ldaps:// or ldapi:// only")
        if url.scheme == "ldaps" or self.start_tls:
            if not self.ca_path or not Path(self.ca_path).is_file():
                raise ValueError("TLS to the directory needs ca_path (its CA) to verify the certificate")
        elif url.scheme == "ldap" and not _loopback(url.hostname or ""):
            raise ValueError(f"{self.ldap_uri}: passwords would cross the network unencrypted; use StartTLS or ldaps")
        if not self.reader_dn or not self.reader_pw:
            raise ValueError("reader_dn and its password are required: the page reads the account's state")


@dataclass
class Bind:
    """A python-ldap connection after a simple bind: ``bound`` says whether the bind succeeded."""

    conn: ldap.ldapobject.SimpleLDAPObject
    bound: bool
    error: str = ""

    def unbind(self) -> None:
        with contextlib.suppress(ldap.LDAPError):
            self.conn.unbind_s()


def _describe(exc: Exception) -> str:
    """The directory's own words for a refusal (its diagnostic message), else the result's name."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return str(info.get("info") or info.get("desc") or exc)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Throttle:
    """Failed attempts per key in a sliding window (in memory: one process serves the page).

    Memory is bounded: at most ``limit`` times per key and ``max_keys`` keys; past that, the key
    that failed least recently is forgotten (keys whose window has passed are always the first).
    """

    def __init__(self, limit: int, window: int, clock=time.monotonic, max_keys: int = 10000):
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self.events: OrderedDict[str, deque] = OrderedDict()
        self.lock = threading.Lock()

    def _current(self, key: str, now: float) -> deque | None:
        events = self.events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self.events[key]  # forget quiet keys
            return None
        return events

    def blocked(self, key: str) -> bool:
        with self.lock:
            events = self._current(key, self.clock())
            return events is not None and len(events) >= self.limit

    def fail(self, key: str) -> None:
        with self.lock:
            now = self.clock()
            events = self._current(key, now)
            if events is None:
                events = self.events[key] = deque(maxlen=self.limit)
            events.append(now)
            self.events.move_to_end(key)
            while len(self.events) > self.max_keys:  # ordered by last failure: expired ones come first
                self.events.popitem(last=False)


class PasswordPage:
    def __init__(self, config: Config):
        config.check()
        self.config = config
        self.by_address = Throttle(config.max_per_address, config.window, max_keys=config.max_keys)
        self.by_client = Throttle(config.max_per_client, config.window, max_keys=config.max_keys)
        self.decoy_dn = config.decoy_dn or f"cn=decoy,ou=services,{config.base_dn}"

    # --- directory (python-ldap: Debian's python3-ldap on the mail host) -----------------
    def _connection(self, dn: str, password: str) -> Bind:
        """A simple bind as ``dn``; whether it succeeded is ``.bound``. TLS (ldaps:// or StartTLS)
        always checks the directory's certificate against the configured CA, whatever
        /etc/ldap/ldap.conf says; nothing is sent to a server that fails the check. Raises when
        the directory cannot be reached (the page then changes nothing)."""
        conn = ldap.initialize(self.config.ldap_uri)
        conn.protocol_version = 3
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 10)
        conn.timeout = 30  # the longest wait for any answer
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        if self.config.ca_path:
            conn.set_option(ldap.OPT_X_TLS_CACERTFILE, self.config.ca_path)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: the options above take effect
        try:
            if self.config.start_tls:
                conn.start_tls_s()
            conn.simple_bind_s(dn, password)
        except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT):
            conn.unbind_s()
            raise
        except ldap.LDAPError as exc:  # invalidCredentials, a locked or expired account…
            return Bind(conn, False, _describe(exc))
        return Bind(conn, True)

    def dn(self, local: str) -> str:
        return f"uid={local},ou=accounts,{self.config.base_dn}"

    def _entry(self, dn: str) -> dict | None:
        """cn and govmailState of the account, read by the reader identity (a user with a reset
        pending may not read their own entry); None when there is no such account. Raises when
        the reader cannot read: the change is then refused, never made blind."""
        reader = self._connection(self.config.reader_dn, self.config.reader_pw or "")
        try:
            if not reader.bound:
                raise RuntimeError(f"the reader could not bind: {reader.error}")
            try:
                found = reader.conn.search_ext_s(
                    dn, ldap.SCOPE_BASE, "(objectClass=govmailAccount)", ["cn", "govmailState"], timeout=30
                )
            except ldap.NO_SUCH_OBJECT:  # an unknown address
                return None
            attrs = next((a for entry_dn, a in found if entry_dn is not None), None)
            if attrs is None:
                raise RuntimeError(f"the reader could not read {dn} as an account")
            first = {k.lower(): v[0].decode("utf-8", "replace") for k, v in attrs.items() if v}
            return {"cn": first.get("cn", ""), "state": first.get("govmailstate", "")}
        finally:
            reader.unbind()

    # --- the change ---------------------------------------------------------------------
    def change(self, address: str, current: str, new: str, confirm: str, client: str) -> tuple[bool, str, list]:  # noqa: PLR0911 — one early answer per check
        """(ok, message key, details). Never tells whether the address exists."""
        address = address.strip().lower()
        local = address.removesuffix("@" + self.config.domain)
        # Per address *from this client*: someone else's failures never block the owner.
        key = f"{local}\x00{client}"
        if self.by_address.blocked(key) or self.by_client.blocked(client):
            return False, "throttled", []
        if new != confirm:
            return False, "mismatch", []
        problems = quality_problems(new, address=f"{local}@{self.config.domain}")
        if problems:
            return False, "weak", problems
        if new == current:
            return False, "same", []
        valid = bool(LOCAL.match(local)) and 0 < len(current) <= MAX_FIELD
        dn = self.dn(local if valid else "nobody.invalid")
        try:
            # The same work whether the account exists or not: one search, then one bind against
            # a password hashed the same way (the account's, or the decoy's nobody knows).
            entry = self._entry(dn)
            target = dn if entry is not None and valid else self.decoy_dn
            session = self._connection(target, current if valid else secrets.token_hex(16))
        except Exception:  # directory down, certificate refused, reader refused: say so, and change nothing
            return False, "unavailable", []
        if not session.bound or entry is None or target != dn:
            session.unbind()
            self.by_address.fail(key)
            self.by_client.fail(client)
            return False, "bad_login", []
        try:
            if entry["state"] != "active":
                return False, "suspended", []
            problems = quality_problems(new, address=f"{local}@{self.config.domain}", name=entry["cn"] or None)
            if problems:
                return False, "weak", problems
            try:  # the password modify extended operation (RFC 3062): ppolicy checks history and age
                session.conn.passwd_s(dn, current, new)
            except ldap.LDAPError as exc:
                message = _describe(exc)
                if "history" in message.lower():
                    return False, "history", []
                if "too young" in message.lower():
                    return False, "too_young", []
                return False, "refused", [message]
            return True, "done", []
        finally:
            session.unbind()

    # --- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        if path.rstrip("/") not in ("", "/password"):
            return self._respond(start_response, "404 Not Found", "<p>404</p>", {})
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        lang = "en" if query.get("lang", [""])[0] == "en" else "vi"
        cookies = _cookies(environ.get("HTTP_COOKIE", ""))
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST":
            return self._post(environ, start_response, lang, cookies)
        if method not in ("GET", "HEAD"):
            return self._respond(start_response, "405 Method Not Allowed", "<p>405</p>", {})
        token = cookies.get("csrf") or secrets.token_urlsafe(32)
        return self._respond(start_response, "200 OK", self.page(lang, token), {"csrf": token})

    def _post(self, environ, start_response, lang, cookies):
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), 8192)
        except ValueError:
            length = 0
        form = {
            k: v[0]
            for k, v in urllib.parse.parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace")).items()
        }
        token = cookies.get("csrf", "")
        origin = environ.get("HTTP_ORIGIN")
        host = environ.get("HTTP_HOST", "")
        same_origin = origin is None or urllib.parse.urlsplit(origin).netloc == host
        if not token or not hmac.compare_digest(token, form.get("csrf", "")) or not same_origin:
            fresh = secrets.token_urlsafe(32)
            body = self.page(lang, fresh, error=TEXT[lang]["csrf"])
            return self._respond(start_response, "403 Forbidden", body, {"csrf": fresh})
        fields = [form.get(k, "")[:MAX_FIELD] for k in ("address", "current", "new", "confirm")]
        client = environ.get("HTTP_X_REAL_IP") if self.config.trust_proxy else None
        client = client or environ.get("REMOTE_ADDR", "?")
        ok, key, details = self.change(*fields, client=client)
        text = TEXT[lang]
        if ok:
            return self._respond(start_response, "200 OK", self.page(lang, token, done=text["done"]), {})
        message = text[key]
        if key == "weak":
            names = [text["problems"].get(p, p) for p in details]
            message = f"{text['weak']} {', '.join(names)}."
        elif details:
            message = f"{message}: {details[0]}"
        status = "429 Too Many Requests" if key == "throttled" else "200 OK"
        return self._respond(start_response, status, self.page(lang, token, error=message, address=fields[0]), {})

    def page(self, lang: str, token: str, error: str | None = None, done: str | None = None, address: str = "") -> str:
        t = TEXT[lang]
        esc = html.escape
        other = "en" if lang == "vi" else "vi"
        rules = "".join(f"<li>{esc(r)}</li>" for r in t["rules"])
        notice = ""
        if error:
            notice = f'<p class="error" role="alert" id="message">{esc(error)}</p>'
        if done:
            notice = f'<p class="ok" role="status" id="message">{esc(done)}</p>'
        action = "?lang=en" if lang == "en" else ""
        form = (
            f'<form method="post" action="/password{action}" autocomplete="off">'
            f'<input type="hidden" name="csrf" value="{esc(token)}">'
            f'<label for="address">{esc(t["address"])}</label>'
            f'<input id="address" name="address" type="text" autocomplete="username" value="{esc(address)}" required>'
            f'<label for="current">{esc(t["current"])}</label>'
            f'<input id="current" name="current" type="password" autocomplete="current-password" required>'
            f'<label for="new">{esc(t["new"])}</label>'
            f'<input id="new" name="new" type="password" autocomplete="new-password" required>'
            f'<label for="confirm">{esc(t["confirm"])}</label>'
            f'<input id="confirm" name="confirm" type="password" autocomplete="new-password" required>'
            f'<button id="submit" type="submit">{esc(t["submit"])}</button></form>'
        )
        return (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(t['title'])}</title><style>{STYLE}</style></head><body>"
            f"<h1>{esc(t['title'])}</h1><p>{esc(t['intro'])}</p>{notice}"
            f'<div class="policy"><strong>{esc(t["policy"])}</strong><ul>{rules}</ul></div>'
            f"{'' if done else form}"
            f'<p><a href="/password?lang={other}">{esc(t["other"])}</a></p></body></html>'
        )

    def _respond(self, start_response, status: str, body: str, cookies: dict):
        data = body.encode("utf-8")
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            (
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),  # "no-referrer" would make browsers send Origin: null
        ]
        if self.config.secure_cookies:
            headers.append(("Strict-Transport-Security", "max-age=31536000"))
        for name, value in cookies.items():
            secure = "; Secure" if self.config.secure_cookies else ""
            headers.append(("Set-Cookie", f"{name}={value}; Path=/password; HttpOnly; SameSite=Strict{secure}"))
        start_response(status, headers)
        return [data]


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            out[name] = value
    return out


def make_server(app, host: str, port: int, certfile: str | None = None, keyfile: str | None = None):
    """A threading WSGI server (standard library); TLS when a certificate is given."""

    class Quiet(WSGIRequestHandler):
        def log_message(self, format, *args):  # one line per request, never a body; no query strings
            print(
                f"{self.address_string()} {self.command} {self.path.split('?')[0]} {args[1] if len(args) > 1 else ''}"
            )

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    server = _make(host, port, app, server_class=Server, handler_class=Quiet)
    if certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certfile, keyfile)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def config_from(data: dict) -> Config:
    """The Config of a JSON configuration (``reader_pw_file`` read here; serving keys ignored)."""
    data = {k: v for k, v in data.items() if k not in ("listen", "tls_cert", "tls_key")}
    pw_file = data.pop("reader_pw_file", None)
    if pw_file:
        data["reader_pw"] = Path(pw_file).read_text(encoding="utf-8").strip()
    return Config(**data)


def main(argv: list[str] | None = None) -> int:
    """``python3 -m govmail.password_page --config FILE`` — how the password_page role runs it on the mail host.

    FILE is JSON with the keys of ``Config`` plus ``listen`` ("127.0.0.1:8080"), optional
    ``reader_pw_file``, ``tls_cert`` and ``tls_key``.
    """
    p = argparse.ArgumentParser(description="the govmail password page")
    p.add_argument("--config", required=True)
    args = p.parse_args(argv)
    data = json.loads(Path(args.config).read_text(encoding="utf-8"))
    listen = data.pop("listen", "127.0.0.1:8080")
    cert, key = data.pop("tls_cert", None), data.pop("tls_key", None)
    host, _, port = listen.rpartition(":")
    try:
        app = PasswordPage(config_from(data))
    except ValueError as exc:  # no verified TLS to the directory, or no reader: refuse to start
        print(f"govmail password page: {args.config}: {exc}", file=sys.stderr, flush=True)
        return 2
    server = make_server(app, host, int(port), cert, key)
    print(f"govmail password page on {listen}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
