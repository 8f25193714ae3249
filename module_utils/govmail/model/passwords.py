"""Initial passwords (R6.1) and the quality rule of R6.2.

Generated with ``secrets``; they exist only in memory, on their way to the directory (which hashes
them) and to the unit's mailbox. They are never logged, returned to Ansible, or written to disk.
"""

from __future__ import annotations

import secrets
import string

from .names import vn_slug

# Characters that survive being read aloud, typed on a Vietnamese keyboard and pasted from a
# mail: no look-alikes (0/O, 1/l/I) and no quotes or backslash.
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijkmnopqrstuvwxyz"
_DIGITS = "23456789"
_SPECIAL = "!@#%$*&^+=?"
SPECIALS = set(string.punctuation)


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
    """
    problems = []
    if len(password) < 8:
        problems.append("at least 8 characters")
    if not any(c.isupper() for c in password):
        problems.append("an upper-case letter")
    if not any(c.islower() for c in password):
        problems.append("a lower-case letter")
    if not any(c.isdigit() for c in password):
        problems.append("a digit")
    if not any(c in SPECIALS for c in password):
        problems.append("a special character such as ! @ # % $ * & ^")
    folded = vn_slug(password) or password.lower()
    if address:
        local = address.split("@", 1)[0].replace(".", "")
        if local and local in folded:
            problems.append("not the address")
    if name:
        for word in name.split():
            slug = vn_slug(word)
            if len(slug) >= 3 and slug in folded:
                problems.append("not a word of the name")
                break
    return problems
