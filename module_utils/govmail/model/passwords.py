"""Initial passwords (R6.1) and the quality rule of R6.2.

Generated with ``secrets``; they exist only in memory, on their way to the directory (which hashes
them) and to the unit's mailbox. They are never logged, returned to Ansible, or written to disk.
"""

from __future__ import annotations

import secrets
import string
import unicodedata
from functools import cache

from .names import words

# Characters that survive being read aloud, typed on a Vietnamese keyboard and pasted from a
# mail: no look-alikes (0/O, 1/l/I) and no quotes or backslash.
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijkmnopqrstuvwxyz"
_DIGITS = "23456789"
_SPECIAL = "!@#%$*&^+=?"
SPECIALS = set(string.punctuation)
DIGITS = set(string.digits)


def generate(length: int = 16) -> str:
    """A random password with every class R6.2 asks for."""
    if length < 8:
        raise ValueError("R6.2: at least 8 characters")
    alphabet = _UPPER + _LOWER + _DIGITS + _SPECIAL
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if not quality_problems(candidate):
            return candidate


def quality_problems(password: str, address: str | None = None, name: str | None = None) -> list[str]:
    """What R6.2 finds wrong with a password; empty when it is acceptable.

    Also refuses a password containing the address's local part or a word of the person's
    name (unaccented, case-insensitive, words of three letters or more).

    slapd enforces the very same rule on every way to set a password (the C module
    ``roles/slapd/files/usr/local/src/govmail-pwcheck/govmail_pwcheck.c``, ppolicy's
    pwdCheckModule); tests/unit/test_pwcheck_module.py checks the two agree. Letters are those of
    the Vietnamese alphabet (ASCII and accented), digits 0-9, special characters ASCII punctuation.
    """
    problems = []
    if len(password) < 8:
        problems.append("at least 8 characters")
    if not any(_letter(c) == "upper" for c in password):
        problems.append("an upper-case letter")
    if not any(_letter(c) == "lower" for c in password):
        problems.append("a lower-case letter")
    if not any(c in DIGITS for c in password):
        problems.append("a digit")
    if not any(c in SPECIALS for c in password):
        problems.append("a special character such as ! @ # % $ * & ^")
    folded = fold(password)
    if address:
        local = address.split("@", 1)[0].replace(".", "").lower()
        if local and local in folded:
            problems.append("not the address")
    if name:
        for word in words(name):
            slug = fold(word)
            if len(slug) >= 3 and slug in folded:
                problems.append("not a word of the name")
                break
    return problems


@cache
def _letter(ch: str) -> str | None:
    """ "upper"/"lower" for a letter of the Vietnamese alphabet (ASCII or accented), else None."""
    base = _base(ch)
    if base is None or not base.isalpha():
        return None
    return "upper" if ch.isupper() else "lower"


@cache
def _base(ch: str) -> str | None:
    """The unaccented small ASCII letter or digit a character stands for, else None."""
    if ch.isascii():
        return ch.lower() if ch.isalnum() else None
    if ch in "đĐ":
        return "d"
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if base.isascii() and base.isalpha() and marks and all(m in _LETTER_MARKS for m in marks):
        return base.lower()
    return None


# The tones, circumflex, breve and horn (names._LETTER_MARKS).
_LETTER_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b")


def fold(text: str) -> str:
    """Unaccented small letters and digits of ``text``, everything else dropped: ``Bình!2`` → ``binh2``."""
    return "".join(b for b in map(_base, text) if b)
