"""Vietnamese names to address parts (R3.4, R5.1, R5.2a).

Names are stored with their diacritics in NFC; only the address is unaccented ASCII.
Everything here is pure: no I/O, no state.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import cache

from unidecode import unidecode

# Characters that carry no letter and are dropped inside a word: zero-width marks,
# apostrophes (Ê Đê names such as H'Hen) and hyphens.
_DROPPED = frozenset(
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width space/non-joiner/joiner, word joiner, BOM
    "'\u2019\u2018\u02bc\u0060\u00b4"  # apostrophes and the accents people type for them
    "-\u2010\u2011\u2012\u2013"  # hyphen-minus, hyphen, non-breaking hyphen, figure/en dash
)

# Combining marks a Vietnamese (or Ê Đê / Jrai / Raglai, which add the breve on e i o u)
# letter may carry: the five tones, circumflex, breve and horn.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_LETTER_MARKS = _TONES | frozenset("\u0302\u0306\u031b")

_ASCII_WORD = re.compile(r"[a-z0-9]+")
_PIECE_SEPARATORS = re.compile("[" + re.escape("".join(sorted(_DROPPED))) + "]")


class InvalidName(ValueError):
    """A name that cannot be turned into an address part; the message says why."""


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def words(text: str) -> list[str]:
    """Split on any Unicode white space (no-break space included) after NFC."""
    return nfc(text).split()


def _strip_dropped(word: str) -> str:
    return "".join(ch for ch in word if ch not in _DROPPED)


@cache
def _is_vietnamese_letter(ch: str) -> bool:
    if ch in "đĐ":
        return True
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    return base.isascii() and base.isalpha() and all(m in _LETTER_MARKS for m in marks)


def check_person_name(name: str) -> None:
    """Raise InvalidName unless every word is made of Vietnamese-alphabet letters.

    A guess at a mangled name would issue a wrong address for good, so anything
    doubtful is an error for a person to fix: digits, symbols, emoji, and text
    mis-decoded from the legacy TCVN3/VNI encodings (``NguyÔn V¨n B×nh``).
    """
    parts = words(name)
    if not parts:
        raise InvalidName("is empty")
    for word in parts:
        letters = _strip_dropped(word)
        if not letters:
            raise InvalidName(f"word {word!r} has no letters")
        bad = [ch for ch in letters if not _is_vietnamese_letter(ch)]
        if bad:
            shown = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in dict.fromkeys(bad))
            raise InvalidName(
                f"word {word!r} has characters outside the Vietnamese alphabet: {shown}"
                " (legacy TCVN3/VNI text must be converted to Unicode first)"
            )
    for word in parts:
        # Each piece between apostrophes/hyphens is capitalised on its first letter only;
        # a capital after a small letter (NguyÔn) is the signature of a mis-decoded legacy font.
        for piece in _PIECE_SEPARATORS.split(word):
            if any(a.islower() and b.isupper() for a, b in itertools.pairwise(piece)):
                raise InvalidName(f"word {word!r} mixes case inside the word (legacy-encoded text?)")
        tones = sum(1 for ch in unicodedata.normalize("NFD", word) if ch in _TONES)
        if tones > 1:
            raise InvalidName(f"word {word!r} carries {tones} tone marks; a syllable has at most one")


@cache
def _word_slug(word: str) -> str:
    ascii_word = unidecode(_strip_dropped(word).replace("đ", "d").replace("Đ", "D")).lower()
    return "".join(_ASCII_WORD.findall(ascii_word))


def vn_slug(text: str) -> str:
    """Unaccented, lowercase, joined: ``Ninh Phước`` → ``ninhphuoc`` (R5.1b)."""
    return "".join(_word_slug(word) for word in words(text))


def _match_given(parts: list[str], given: list[str]) -> int:
    """Index where the given-name words start inside the name's words, or -1."""
    folded = [p.casefold() for p in parts]
    target = [g.casefold() for g in given]
    for start in range(len(parts) - len(given) + 1):
        if folded[start : start + len(given)] == target:
            return start
    return -1


def person_base(name: str, given_name: str | None = None) -> str:
    """Initials of every word but the given name, then the given name in full (R5.2a).

    ``Nguyễn Văn Bình`` → ``nvbinh``. The given name is the last word unless
    ``given_name`` names the word(s) that form it (``H'Hen Niê`` with ``H'Hen`` → ``nhhen``).
    """
    check_person_name(name)
    parts = words(name)
    if given_name is None:
        start, given = len(parts) - 1, parts[-1:]
    else:
        given = words(given_name)
        if not given:
            raise InvalidName("given_name is empty")
        start = _match_given(parts, given)
        if start < 0:
            raise InvalidName(f"given_name {given_name!r} is not a run of words in the name")
    others = parts[:start] + parts[start + len(given) :]
    initials = "".join(vn_slug(word)[:1] for word in others)
    base = initials + "".join(vn_slug(word) for word in given)
    if not base or not base[0].isalpha():
        raise InvalidName("gives no usable address")
    return base
