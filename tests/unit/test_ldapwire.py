"""The hand-encoded LDAP requests decode, with ldap3's own ASN.1 definitions, to what was meant."""

import pytest
from ldap3.operation.search import parse_filter
from ldap3.protocol.rfc4511 import LDAPMessage
from ldap3.utils.conv import to_unicode
from pyasn1.codec.ber import decoder, encoder

from govmail.directory.ldapwire import (
    REPLACE,
    WireError,
    _done_cookie,
    _paged_control,
    _parse_entry,
    _read_tlv,
    add_request,
    encode_filter,
    integer,
    message,
    modify_request,
    octets,
    parse_result,
    sequence,
    tlv,
)


def _decode(data: bytes):
    decoded, rest = decoder.decode(data, asn1Spec=LDAPMessage())
    assert rest == b""
    return decoded


def test_add_request_decodes_to_the_entry():
    attrs = {
        "objectClass": ["top", "inetOrgPerson"],
        "cn": ["Nguyễn Văn Bình"],
        "mail": ["nvbinh@khanhhoa.gov.vn"],
        "title": [],
    }
    msg = _decode(message(7, add_request("uid=nvbinh,ou=accounts,dc=x", attrs)))
    assert int(msg["messageID"]) == 7
    add = msg["protocolOp"]["addRequest"]
    assert str(add["entry"]) == "uid=nvbinh,ou=accounts,dc=x"
    got = {str(a["type"]): [to_unicode(bytes(v)) for v in a["vals"]] for a in add["attributes"]}
    assert got == {
        "objectClass": ["top", "inetOrgPerson"],
        "cn": ["Nguyễn Văn Bình"],
        "mail": ["nvbinh@khanhhoa.gov.vn"],
    }


def test_modify_request_decodes_to_the_changes():
    msg = _decode(message(3, modify_request("uid=a,dc=x", {"title": (REPLACE, ["CV"]), "govmailAlias": (REPLACE, [])})))
    mod = msg["protocolOp"]["modifyRequest"]
    changes = [
        (int(c["operation"]), str(c["modification"]["type"]), [bytes(v) for v in c["modification"]["vals"]])
        for c in mod["changes"]
    ]
    assert changes == [(2, "title", [b"CV"]), (2, "govmailAlias", [])]


@pytest.mark.parametrize(
    "text",
    [
        "(&(objectClass=govmailAccount)(govmailManaged=TRUE))",
        "(&(mail=*)(!(govmailManaged=TRUE)))",
        "(|(uid=a)(uid=b\\2a))",
    ],
)
def test_filters_encode_as_ldap3_encodes_them(text):
    from ldap3.operation.search import compile_filter

    assert encode_filter(text) == encoder.encode(
        compile_filter(parse_filter(text, None, True, True, None, False).elements[0])
    )


@pytest.mark.parametrize("text", ["(cn=Ng*)", "(uid>=a)", "uid=a", "(&(uid=a)"])
def test_unsupported_or_broken_filters_are_errors(text):
    with pytest.raises((WireError, IndexError, ValueError)):
        encode_filter(text)


def test_results_entries_and_cookies_parse():
    done = sequence(integer(9), sequence(integer(68, tag=0x0A), octets(""), octets("exists"), tag=0x69))
    result = parse_result(done)
    assert (result.message_id, result.code, result.describe()) == (9, 68, "entryAlreadyExists exists")
    entry = sequence(
        octets("uid=a,dc=x"), sequence(sequence(octets("mail"), sequence(octets("a@x"), tag=0x31))), tag=0x64
    )
    _, start, end = _read_tlv(entry, 0)
    assert _parse_entry(entry, start, end) == ("uid=a,dc=x", {"mail": ["a@x"]})
    body = sequence(integer(0, tag=0x0A), octets(""), octets(""), tag=0x65)
    frame = sequence(integer(2), body, _paged_control(1000, b"\x01\x02"))
    _, s0, _ = _read_tlv(frame, 0)
    _, _, id_end = _read_tlv(frame, s0)
    _, _, op_end = _read_tlv(frame, id_end)
    assert _done_cookie(frame, op_end) == b"\x01\x02"
    assert tlv(0x04, b"x" * 300)[:4] == b"\x04\x82\x01\x2c"  # long-form lengths
