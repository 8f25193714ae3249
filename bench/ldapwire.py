# The engine's former hand-written codec (module_utils/govmail/directory/ldapwire.py until issue 9), kept
# here only as the baseline of bench/clients.py. The engine no longer uses it.
"""A pipelined LDAP writer for bulk changes (RFC 4511 add, modify; simple or SASL EXTERNAL bind; TLS).

ldap3 stays the general client (connections, reads, multi-step changes). Encoding a request with
ldap3 costs about a millisecond of CPU (pyasn1), and a synchronous client waits a round trip per
entry: for tens of thousands of entries that is most of an apply. This module encodes the few
operations a bulk apply needs by hand and keeps a window of requests in flight, then matches every
response to its request, so one refused entry is reported alone and the rest go on.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# --- BER (definite lengths only, as LDAP requires) -------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def integer(value: int, tag: int = 0x02) -> bytes:
    return tlv(tag, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def octets(value: str | bytes, tag: int = 0x04) -> bytes:
    return tlv(tag, value.encode("utf-8") if isinstance(value, str) else value)


def sequence(*parts: bytes, tag: int = 0x30) -> bytes:
    return tlv(tag, b"".join(parts))


def _read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the element at ``pos``."""
    tag = data[pos]
    first = data[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[pos + 2 : pos + 2 + count], "big")
    start = pos + 2 + count
    return tag, start, start + length


# --- LDAP operations -----------------------------------------------------------------------

ADD, MODIFY = 0x68, 0x66  # [APPLICATION 8], [APPLICATION 6], constructed
REPLACE, ADD_VALUES, DELETE_VALUES = 2, 0, 1
RESULT_NAMES = {
    0: "success", 3: "timeLimitExceeded", 4: "sizeLimitExceeded",
    16: "noSuchAttribute", 19: "constraintViolation", 20: "attributeOrValueExists",
    21: "invalidAttributeSyntax", 32: "noSuchObject", 34: "invalidDNSyntax", 49: "invalidCredentials",
    50: "insufficientAccessRights", 53: "unwillingToPerform", 64: "namingViolation", 65: "objectClassViolation",
    67: "notAllowedOnRDN", 68: "entryAlreadyExists", 69: "objectClassModsProhibited",
}  # fmt: skip


def _values(values: Iterable[str]) -> bytes:
    return sequence(*(octets(v) for v in values), tag=0x31)


def add_request(dn: str, attributes: dict[str, list[str]]) -> bytes:
    attrs = sequence(*(sequence(octets(k), _values(v)) for k, v in attributes.items() if v))
    return sequence(octets(dn), attrs, tag=ADD)


def modify_request(dn: str, changes: dict[str, tuple[int, list[str]]]) -> bytes:
    mods = sequence(
        *(sequence(integer(op, tag=0x0A), sequence(octets(k), _values(v))) for k, (op, v) in changes.items())
    )
    return sequence(octets(dn), mods, tag=MODIFY)


def message(message_id: int, operation: bytes) -> bytes:
    return sequence(integer(message_id), operation)


@dataclass
class Result:
    message_id: int
    code: int
    diagnostic: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def describe(self) -> str:
        name = RESULT_NAMES.get(self.code, f"result {self.code}")
        return f"{name} {self.diagnostic}".strip()


def parse_result(data: bytes) -> Result:
    """An LDAPMessage carrying an LDAPResult (add, modify, bind, extended responses)."""
    _, start, _ = _read_tlv(data, 0)
    _, id_start, id_end = _read_tlv(data, start)
    message_id = int.from_bytes(data[id_start:id_end], "big")
    _, op_start, _ = _read_tlv(data, id_end)
    _, code_start, code_end = _read_tlv(data, op_start)
    code = int.from_bytes(data[code_start:code_end], "big")
    _, _, matched_end = _read_tlv(data, code_end)
    _, diag_start, diag_end = _read_tlv(data, matched_end)
    return Result(message_id, code, data[diag_start:diag_end].decode("utf-8", "replace"))


class WireError(Exception):
    pass


# --- search (the subset of RFC 4515 filters govmail uses: & | ! = and =*) -------------------

PAGED_RESULTS = "1.2.840.113556.1.4.319"


def _unescape(value: str) -> bytes:
    return re.sub(rb"\\([0-9a-fA-F]{2})", lambda m: bytes([int(m[1], 16)]), value.encode("utf-8"))


def encode_filter(text: str) -> bytes:
    """Encode a filter such as ``(&(objectClass=govmailAccount)(!(govmailManaged=TRUE)))``."""
    encoded, end = _filter(text.strip(), 0)
    if end != len(text.strip()):
        raise WireError(f"unsupported filter {text!r}")
    return encoded


def _filter(text: str, pos: int) -> tuple[bytes, int]:
    if text[pos] != "(":
        raise WireError(f"filter expected '(' at {pos} in {text!r}")
    kind = text[pos + 1]
    if kind in "&|":
        parts, pos = [], pos + 2
        while text[pos] == "(":
            part, pos = _filter(text, pos)
            parts.append(part)
        return tlv(0xA0 if kind == "&" else 0xA1, b"".join(parts)), pos + 1
    if kind == "!":
        part, pos = _filter(text, pos + 2)
        return tlv(0xA2, part), pos + 1
    end = text.index(")", pos)
    attr, op, value = text[pos + 1 : end].partition("=")
    if not op or attr.endswith(("<", ">", "~", ":")) or ("*" in value and value != "*"):
        raise WireError(f"unsupported filter item {text[pos : end + 1]!r}")
    if value == "*":
        return octets(attr, tag=0x87), end + 1
    return sequence(octets(attr), octets(_unescape(value)), tag=0xA3), end + 1


def search_request(base: str, filter_text: str, attributes: list[str]) -> bytes:
    return sequence(
        octets(base),
        integer(2, tag=0x0A),  # wholeSubtree
        integer(0, tag=0x0A),  # neverDerefAliases
        integer(0),
        integer(0),
        tlv(0x01, b"\x00"),  # typesOnly FALSE
        encode_filter(filter_text),
        sequence(*(octets(a) for a in attributes)),
        tag=0x63,
    )


def _paged_control(size: int, cookie: bytes) -> bytes:
    value = sequence(integer(size), octets(cookie))
    return tlv(0xA0, sequence(octets(PAGED_RESULTS), octets(value)))


def _parse_entry(data: bytes, start: int, end: int) -> tuple[str, dict[str, list[str]]]:
    _, dn_start, dn_end = _read_tlv(data, start)
    _, pos, attrs_end = _read_tlv(data, dn_end)
    attributes: dict[str, list[str]] = {}
    while pos < attrs_end:
        _, attr_start, attr_end = _read_tlv(data, pos)
        _, name_start, name_end = _read_tlv(data, attr_start)
        _, vpos, vals_end = _read_tlv(data, name_end)
        values = []
        while vpos < vals_end:
            _, v_start, v_end = _read_tlv(data, vpos)
            values.append(data[v_start:v_end].decode("utf-8", "replace"))
            vpos = v_end
        attributes[data[name_start:name_end].decode("ascii")] = values
        pos = attr_end
    return data[dn_start:dn_end].decode("utf-8"), attributes


def _done_cookie(data: bytes, op_end: int) -> bytes:
    """The paged-results cookie in the controls after a SearchResultDone (empty: last page)."""
    if op_end >= len(data) or data[op_end] != 0xA0:
        return b""
    _, pos, controls_end = _read_tlv(data, op_end)
    while pos < controls_end:
        _, c_start, c_end = _read_tlv(data, pos)
        _, oid_start, oid_end = _read_tlv(data, c_start)
        if data[oid_start:oid_end].decode() == PAGED_RESULTS:
            tag, v_start, v_end = _read_tlv(data, oid_end)
            if tag == 0x01:  # criticality present
                tag, v_start, v_end = _read_tlv(data, v_end)
            _, seq_start, _ = _read_tlv(data, v_start)
            _, _, size_end = _read_tlv(data, seq_start)
            _, cookie_start, cookie_end = _read_tlv(data, size_end)
            return data[cookie_start:cookie_end]
        pos = c_end
    return b""


class Pipeline:
    """One LDAP connection that sends many requests before reading their responses."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = bytearray()
        self.pos = 0  # start of the unread part of buffer (slicing per frame would be quadratic)
        self.next_id = 1

    # -- connecting ---------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        server_uri: str,
        bind_dn: str | None = None,
        bind_pw: str = "",
        *,
        start_tls: bool = False,
        validate_certs: bool = True,
        ca_path: str | None = None,
        timeout: int = 30,
    ) -> Pipeline:
        url = urllib.parse.urlsplit(server_uri)
        context = ssl.create_default_context(cafile=ca_path)
        if not validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if url.scheme == "ldapi":
            path = urllib.parse.unquote(url.netloc or url.path) or "/var/run/slapd/ldapi"
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(path)
        else:
            port = url.port or (636 if url.scheme == "ldaps" else 389)
            sock = socket.create_connection((url.hostname, port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if url.scheme == "ldaps":
                sock = context.wrap_socket(sock, server_hostname=url.hostname)
        pipe = cls(sock)
        if start_tls and url.scheme == "ldap":
            pipe._start_tls(context, url.hostname)
        pipe._bind(bind_dn, bind_pw, sasl_external=url.scheme == "ldapi" and not bind_dn)
        return pipe

    def _call(self, operation: bytes) -> Result:
        message_id = self.send(operation)
        return next(self.results({message_id}))

    def _start_tls(self, context: ssl.SSLContext, hostname: str) -> None:
        result = self._call(sequence(octets("1.3.6.1.4.1.1466.20037", tag=0x80), tag=0x77))
        if not result.ok:
            raise WireError(f"StartTLS refused: {result.describe()}")
        self.sock = context.wrap_socket(self.sock, server_hostname=hostname)

    def _bind(self, dn: str | None, password: str, sasl_external: bool) -> None:
        # SASL EXTERNAL with an empty authorization identity (the peer credentials decide), else simple.
        auth = sequence(octets("EXTERNAL"), octets(""), tag=0xA3) if sasl_external else octets(password or "", tag=0x80)
        result = self._call(sequence(integer(3), octets(dn or ""), auth, tag=0x60))
        if not result.ok:
            raise WireError(f"bind as {dn or 'EXTERNAL'} refused: {result.describe()}")

    # -- pipelining ---------------------------------------------------------------------
    def send(self, operation: bytes) -> int:
        message_id = self.next_id
        self.next_id += 1
        self.sock.sendall(message(message_id, operation))
        return message_id

    def _frame(self) -> bytes:
        while True:
            available = len(self.buffer) - self.pos
            if available >= 2:
                first = self.buffer[self.pos + 1]
                header = 2 if first < 0x80 else 2 + (first & 0x7F)
                if available >= header:
                    _, _, end = _read_tlv(self.buffer, self.pos)
                    if len(self.buffer) >= end:
                        frame = bytes(self.buffer[self.pos : end])
                        self.pos = end
                        return frame
            if self.pos:
                del self.buffer[: self.pos]
                self.pos = 0
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise WireError("the directory closed the connection")
            self.buffer += chunk

    def results(self, pending: set[int]) -> Iterator[Result]:
        """Responses to the given message ids, in the order they arrive."""
        while pending:
            result = parse_result(self._frame())
            pending.discard(result.message_id)
            yield result

    def run(self, operations: Iterable[tuple[object, bytes]], window: int = 256) -> Iterator[tuple[object, Result]]:
        """Send (key, request) pairs with up to ``window`` in flight; yield (key, result) for each."""
        in_flight: dict[int, object] = {}
        for key, operation in operations:
            in_flight[self.send(operation)] = key
            if len(in_flight) >= window:
                result = parse_result(self._frame())
                yield in_flight.pop(result.message_id), result
        while in_flight:
            result = parse_result(self._frame())
            yield in_flight.pop(result.message_id), result

    def search(
        self, base: str, filter_text: str, attributes: list[str], page_size: int = 1000
    ) -> Iterator[tuple[str, dict[str, list[str]]]]:
        """Every (dn, attributes) under ``base`` matching the filter, page by page (paged results control)."""
        request = search_request(base, filter_text, attributes)
        cookie = b""
        while True:
            message_id = self.next_id
            self.next_id += 1
            self.sock.sendall(sequence(integer(message_id), request, _paged_control(page_size, cookie)))
            while True:
                frame = self._frame()
                _, start, _ = _read_tlv(frame, 0)
                _, _, id_end = _read_tlv(frame, start)
                tag, op_start, op_end = _read_tlv(frame, id_end)
                if tag == 0x64:  # SearchResultEntry
                    yield _parse_entry(frame, op_start, op_end)
                elif tag == 0x65:  # SearchResultDone
                    result = parse_result(frame)
                    if not result.ok:
                        raise WireError(f"search of {base} failed: {result.describe()}")
                    cookie = _done_cookie(frame, op_end)
                    break
            if not cookie:
                return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(message(self.next_id, tlv(0x42, b"")))  # UnbindRequest
        self.sock.close()
