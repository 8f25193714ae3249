"""The engine's one LDAP client: python-ldap (libldap), and the connection options every govmail
module and the CLI share (community.general's _ldap.py pattern).

One argument spec: a module adds ``ldap_argument_spec()`` to its own spec. ``Directory.open(ldap)``
(or ``connect(**ldap)``) gives a bound connection: StartTLS and the CA checked as the options say,
pipelined writes, paged and RFC 4533 reads (convergence), and the single reads and modifications of
the lifecycle jobs, the importer, the lock and ``govmail status``. bench/clients.py chose the library
(docs/performance.md). The password page and the session guard run alone on the mail host, without
the rest of the engine: they use python-ldap too (Debian's python3-ldap), with their own few lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator


class LdapError(Exception):
    """The directory could not be reached, refused the bind, or refused an operation; the message says which."""


class ReadError(LdapError, RuntimeError):
    """A paged read the directory refused or cut short (a size limit…): never to pass for the whole."""


def ldap_argument_spec() -> dict:
    """Options every module that talks to the directory accepts."""
    return {
        "server_uri": {"type": "str", "default": "ldapi:///"},
        "bind_dn": {"type": "str"},
        "bind_pw": {"type": "str", "default": "", "no_log": True},
        "start_tls": {"type": "bool", "default": False},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "base_dn": {"type": "str", "required": True},
        "connect_timeout": {"type": "int", "default": 10},
    }


LDAP_OPTIONS = tuple(ldap_argument_spec())


def ldap_params(params: dict) -> dict:
    return {key: params.get(key) for key in LDAP_OPTIONS}


def connect(
    *,
    server_uri: str = "ldapi:///",
    bind_dn: str | None = None,
    bind_pw: str = "",
    start_tls: bool = False,
    validate_certs: bool = True,
    ca_path: str | None = None,
    base_dn: str | None = None,
    connect_timeout: int = 10,
) -> Directory:
    """A bound ``Directory``. Without ``bind_dn`` on ldapi:// the bind is SASL EXTERNAL (root on the
    host); without it elsewhere the connection stays anonymous. LdapError when unreachable or refused."""
    return Directory.open(
        {"server_uri": server_uri, "bind_dn": bind_dn, "bind_pw": bind_pw, "start_tls": start_tls,
         "validate_certs": validate_certs, "ca_path": ca_path, "base_dn": base_dn, "connect_timeout": connect_timeout}
    )  # fmt: skip


# --- python-ldap (libldap): the bulk path -------------------------------------------------------
# bench/clients.py chose it (docs/performance.md): pipelined writes and reads at libldap's speed,
# and RFC 4533 content synchronisation from its ldap.syncrepl.

RESULT_NAMES = {
    0: "success", 3: "timeLimitExceeded", 4: "sizeLimitExceeded", 12: "unavailableCriticalExtension",
    16: "noSuchAttribute", 19: "constraintViolation", 20: "attributeOrValueExists",
    21: "invalidAttributeSyntax", 32: "noSuchObject", 34: "invalidDNSyntax", 49: "invalidCredentials",
    50: "insufficientAccessRights", 51: "busy", 52: "unavailable", 53: "unwillingToPerform",
    64: "namingViolation", 65: "objectClassViolation", 67: "notAllowedOnRDN", 68: "entryAlreadyExists",
    69: "objectClassModsProhibited", 4096: "e-syncRefreshRequired",
}  # fmt: skip
REPLACE, ADD_VALUES, DELETE_VALUES = 2, 0, 1  # ldap.MOD_REPLACE, MOD_ADD, MOD_DELETE
PAGED_RESULTS = "1.2.840.113556.1.4.319"


def describe(exc: Exception) -> str:
    """``entryAlreadyExists <diagnostic>`` for an ldap.LDAPError; the text of anything else."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else None
    if info is None:
        return str(exc)
    name = RESULT_NAMES.get(info.get("result"), info.get("desc") or f"result {info.get('result')}")
    return f"{name} {info.get('info') or ''}".strip()


def _decode(attrs: dict[str, list[bytes]]) -> dict[str, list[str]]:
    return {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in attrs.items()}


def _encode(values) -> list[bytes]:
    return [v.encode("utf-8") if isinstance(v, str) else v for v in values]


def _connection_class():
    from ldap.ldapobject import SimpleLDAPObject  # noqa: PLC0415 — python-ldap is needed by the bulk path only
    from ldap.syncrepl import SyncreplConsumer  # noqa: PLC0415

    class _Connection(SyncreplConsumer, SimpleLDAPObject):
        """One libldap connection; the sync callbacks fill ``self.sync`` (a SyncState)."""

        sync = None

        def syncrepl_get_cookie(self):
            return self.sync.cookie

        def syncrepl_set_cookie(self, cookie):
            self.sync.new_cookie = cookie

        def syncrepl_entry(self, dn, attrs, uuid):
            self.sync.entries[uuid] = (dn, _decode(attrs))
            self.sync.changed += 1

        def syncrepl_delete(self, uuids):
            for uuid in uuids:
                self.sync.entries.pop(uuid, None)
                self.sync.changed += 1

        def syncrepl_present(self, uuids, refreshDeletes=False):
            if uuids is not None:
                self.sync.present.update(uuids)
            elif not refreshDeletes:  # present phase over: whatever was not named is gone
                gone = [u for u in self.sync.entries if u not in self.sync.present]
                for uuid in gone:
                    del self.sync.entries[uuid]
                self.sync.changed += len(gone)
                self.sync.present = set()
            else:
                self.sync.present = set()

    return _Connection


class SyncState:
    """A local copy of the entries a sync search covers: entryUUID → (dn, attributes), and the cookie."""

    def __init__(self, cookie: str | None = None, entries: dict | None = None):
        self.cookie = cookie
        self.new_cookie: str | None = None
        self.entries: dict[str, tuple[str, dict[str, list[str]]]] = entries if entries is not None else {}
        self.present: set[str] = set()
        self.changed = 0


class Directory:
    """A python-ldap connection for the engine's bulk work: many requests in flight on one
    connection, each answer matched to its request (a refused entry is reported alone), paged reads,
    RFC 4533 refreshOnly reads, and the few single operations of adoption and revocation."""

    def __init__(self, conn):
        self.conn = conn

    @classmethod
    def open(cls, options: dict, *, bind: bool = True, timeout: float | None = None) -> Directory:
        """Connected with the options of ``ldap_argument_spec``: TLS (ldaps:// or ``start_tls``) always
        checks the certificate (against ``ca_path`` when given) unless ``validate_certs`` is false;
        bound as ``bind_dn``, or SASL EXTERNAL on ldapi://, or anonymous. ``bind=False``: no bind
        (an anonymous probe); ``timeout``: the longest wait for any answer. LdapError when
        unreachable or refused."""
        import ldap as libldap  # noqa: PLC0415
        import ldap.sasl as libsasl  # noqa: PLC0415

        ldap = options
        uri = ldap["server_uri"]
        try:
            conn = _connection_class()(uri, bytes_mode=False)
            conn.protocol_version = 3
            conn.set_option(libldap.OPT_REFERRALS, 0)
            conn.set_option(libldap.OPT_NETWORK_TIMEOUT, ldap.get("connect_timeout") or 10)
            if timeout is not None:
                conn.timeout = timeout  # python-ldap's wait for each result (default: forever)
            if uri.startswith(("ldaps:", "ldap:")):
                conn.set_option(
                    libldap.OPT_X_TLS_REQUIRE_CERT,
                    libldap.OPT_X_TLS_DEMAND if ldap.get("validate_certs", True) else libldap.OPT_X_TLS_NEVER,
                )
                if ldap.get("ca_path"):
                    conn.set_option(libldap.OPT_X_TLS_CACERTFILE, ldap["ca_path"])
                conn.set_option(libldap.OPT_X_TLS_NEWCTX, 0)  # last: the options above take effect
            if ldap.get("start_tls") and uri.startswith("ldap:"):
                conn.start_tls_s()
            if bind and ldap.get("bind_dn"):
                conn.simple_bind_s(ldap["bind_dn"], ldap.get("bind_pw") or "")
            elif bind and uri.startswith("ldapi:"):
                conn.sasl_interactive_bind_s("", libsasl.external())
        except (libldap.SERVER_DOWN, libldap.CONNECT_ERROR, libldap.TIMEOUT) as exc:
            raise LdapError(f"cannot use the directory at {uri}: {describe(exc)}") from exc
        except libldap.LDAPError as exc:
            who = ldap.get("bind_dn") or "EXTERNAL/anonymous"
            raise LdapError(f"bind to {uri} as {who} refused: {describe(exc)}") from exc
        return cls(conn)

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _refused(self, what: str):
        """python-ldap's errors of a single operation as LdapError(\"<what>: <result> <diagnostic>\")."""
        import ldap as libldap  # noqa: PLC0415

        try:
            yield
        except libldap.LDAPError as exc:
            raise LdapError(f"{what}: {describe(exc)}") from exc

    # -- pipelined writes -------------------------------------------------------------------
    def send(self, request: tuple) -> int:
        """Send ``("add", dn, attrs)`` or ``("modify", dn, {attr: (op, values)})``; its message id."""
        kind, dn, body = request
        if kind == "add":
            return self.conn.add_ext(dn, [(k, _encode(v)) for k, v in body.items() if v])
        return self.conn.modify_ext(dn, [(op, k, _encode(v)) for k, (op, v) in body.items()])

    def run(self, requests: Iterable[tuple[object, tuple]], window: int = 256) -> Iterator[tuple[object, str | None]]:
        """(key, request) pairs with up to ``window`` in flight; yields (key, None or the reason)."""
        import ldap as libldap  # noqa: PLC0415

        in_flight: dict[int, object] = {}

        def one():
            try:
                _, _, msgid, _ = self.conn.result3(libldap.RES_ANY, all=1)
                return in_flight.pop(msgid), None
            except libldap.SERVER_DOWN:
                raise
            except libldap.LDAPError as exc:
                info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
                if info.get("msgid") not in in_flight:
                    raise
                return in_flight.pop(info["msgid"]), describe(exc)

        for key, request in requests:
            in_flight[self.send(request)] = key
            if len(in_flight) >= window:
                yield one()
        while in_flight:
            yield one()

    # -- reads ------------------------------------------------------------------------------
    def search(self, base: str, filter_text: str, attributes: list[str], page_size: int = 1000):
        """Every (dn, attributes) under ``base`` matching the filter, page by page; ReadError when
        the directory refuses or cuts the read short."""
        import ldap as libldap  # noqa: PLC0415
        from ldap.controls import SimplePagedResultsControl  # noqa: PLC0415

        control = SimplePagedResultsControl(True, size=page_size, cookie="")
        while True:
            try:
                msgid = self.conn.search_ext(
                    base, libldap.SCOPE_SUBTREE, filter_text, attributes, serverctrls=[control]
                )
                _, data, _, controls = self.conn.result3(msgid)
            except libldap.LDAPError as exc:  # a partial read (size limit…) must never pass for the whole
                raise ReadError(f"reading {base} failed: {describe(exc)}") from exc
            for dn, attrs in data:
                if dn is not None:  # referrals have no DN
                    yield dn, _decode(attrs)
            cookie = next((c.cookie for c in controls if c.controlType == PAGED_RESULTS), b"")
            if not cookie:
                return
            control.cookie = cookie

    def refresh(self, base: str, filter_text: str, attributes: list[str], state: SyncState) -> SyncState:
        """RFC 4533 refreshOnly from ``state`` (its cookie and entries); the state brought up to date.

        Raises ldap.LDAPError when the server refuses (no syncprov: unavailableCriticalExtension;
        an unknown cookie: e-syncRefreshRequired): the caller then reads everything again.
        """
        import ldap as libldap  # noqa: PLC0415

        self.conn.sync = state
        try:
            msgid = self.conn.syncrepl_search(
                base, libldap.SCOPE_SUBTREE, mode="refreshOnly", cookie=state.cookie,
                filterstr=filter_text, attrlist=attributes,
            )  # fmt: skip
            self.conn.syncrepl_poll(msgid=msgid, all=1)
        finally:
            self.conn.sync = None
        if state.new_cookie is None and state.cookie is None:
            raise RuntimeError("the directory ended the content synchronisation without a cookie")
        state.cookie, state.new_cookie = state.new_cookie or state.cookie, None  # none new: nothing changed
        return state

    # -- single operations (adoption, revocation, the lifecycle jobs, status) ------------------
    def read(self, dn: str, attributes: list[str], filter_text: str = "(objectClass=*)") -> dict[str, list[str]] | None:
        """One entry's attributes (operational ones too when named); None when it does not exist or
        does not match ``filter_text``. LdapError when the read is refused."""
        import ldap as libldap  # noqa: PLC0415

        with self._refused(f"reading {dn or 'the root DSE'}"):
            try:
                found = self.conn.search_ext_s(dn, libldap.SCOPE_BASE, filter_text, attributes,
                                               timeout=self.conn.timeout)  # fmt: skip
            except libldap.NO_SUCH_OBJECT:
                return None
        return next((_decode(attrs) for entry_dn, attrs in found if entry_dn is not None), None)

    def modify(self, dn: str, changes: dict[str, tuple[int, list[str]]]) -> None:
        """``{attribute: (REPLACE | ADD_VALUES | DELETE_VALUES, values)}``; LdapError when refused."""
        with self._refused(f"modifying {dn}"):
            self.conn.modify_s(dn, [(op, k, _encode(v)) for k, (op, v) in changes.items()])

    def rename(self, dn: str, rdn: str, new_superior: str, delete_old_rdn: bool = True) -> None:
        with self._refused(f"moving {dn}"):
            self.conn.rename_s(dn, rdn, newsuperior=new_superior, delold=int(delete_old_rdn))

    def who_am_i(self) -> str:
        """The bound identity (RFC 4532): ``dn:<dn>``, or "" when anonymous."""
        with self._refused("who am I"):
            return self.conn.whoami_s() or ""

    def peer_certificate(self) -> bytes | None:
        """The directory's certificate (DER) when the connection is over TLS, else None."""
        import ldap as libldap  # noqa: PLC0415

        try:
            return self.conn.get_option(libldap.OPT_X_TLS_PEERCERT) or None
        except (libldap.LDAPError, ValueError):
            return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.unbind_ext_s()
