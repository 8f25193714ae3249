"""The C module slapd runs (govmail_pwcheck.c) and passwords.quality_problems are one rule (R6.2)."""

from __future__ import annotations

import ctypes
import re
import unicodedata

import pwcheck
from hypothesis import given, settings
from hypothesis import strategies as st

from govmail.model import passwords
from govmail.model.names import _is_vietnamese_letter
from govmail.model.passwords import quality_problems

BITS = [
    "at least 8 characters",
    "an upper-case letter",
    "a lower-case letter",
    "a digit",
    "a special character such as ! @ # % $ * & ^",
    "not the address",
    "not a word of the name",
]
ADDRESS, NAME = "nvbinh@khanhhoa.gov.vn", "Nguyễn Văn Bình"


def _module():
    lib = ctypes.CDLL(str(pwcheck.build()))
    lib.govmail_problems.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.govmail_problems.restype = ctypes.c_int
    return lib


LIB = _module()


def c_problems(password: str, address: str | None = ADDRESS, name: str | None = NAME) -> list[str]:
    mask = LIB.govmail_problems(
        password.encode(), address.encode() if address else None, name.encode() if name else None
    )
    assert not mask & 128, f"the module found {password!r} malformed"
    return [text for bit, text in enumerate(BITS) if mask & (1 << bit)]


def test_the_letter_table_is_the_vietnamese_alphabet():
    source = pwcheck.SOURCE.read_text(encoding="utf-8")
    table = {
        int(cp, 16): (base, upper == "1") for cp, base, upper in re.findall(r"\{0x([0-9A-F]+), '(.)', ([01])\}", source)
    }
    expected = {}
    for cp in range(0x80, 0x10000):
        ch = chr(cp)
        if passwords._letter(ch):  # what the Python rule counts as a letter, accents folded
            expected[cp] = (passwords._base(ch), passwords._letter(ch) == "upper")
            assert (
                _is_vietnamese_letter(ch) and passwords._base(ch) == unicodedata.normalize("NFD", ch)[0].lower()
            ) or ch in "đĐ"
    assert table == expected
    assert list(table) == sorted(table)  # the module searches it by bisection


def test_known_cases_agree():
    cases = [
        "aaaaaaaa",
        "abc12345",
        "Ab1!",
        "abcdefg1!",
        "ABCDEFG1!",
        "Abcdefgh!",
        "Abcdefgh1",
        "Xx!9nvbinh",
        "Xx!9nv.Nguyen",
        "Bình!2026x",
        "BÌNH!2026x",
        "Qk7#mPz2!w",
        "Đđđđđđ1!",
        "ĐĂNG!ký12",
        "ngUYễn#2026A",
        "Pass word 1!",
        "Vă!9Xvvv",
        "\u00e9\u00c9!1abcd",
        "x" * 300 + "A1!",
    ]
    for password in cases:
        assert c_problems(password) == quality_problems(password, address=ADDRESS, name=NAME), password


def test_attacks_from_the_issue_are_refused_by_the_module():
    assert c_problems("aaaaaaaa") == BITS[1:2] + BITS[3:5]
    assert c_problems("abc12345") == [BITS[1], BITS[4]]


@settings(max_examples=400, deadline=None)
@given(
    password=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=24),
    name=st.sampled_from([NAME, "Trần Thị Mai", "H'Hen Niê", "Lê Ân"]),
)
def test_random_passwords_agree(password, name):
    assert c_problems(password, name=name) == quality_problems(password, address=ADDRESS, name=name)


@settings(max_examples=300, deadline=None)
@given(password=st.text(alphabet="aAbBnNvViIhH1!ăâêôơưđĐÂÊýỳ. -'", max_size=16))
def test_near_misses_agree(password):
    assert c_problems(password) == quality_problems(password, address=ADDRESS, name=NAME)
