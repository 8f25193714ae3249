"""Article 5 address filters for playbooks: thin wrappers over the govmail engine in module_utils/."""

from __future__ import annotations

import sys
from pathlib import Path

from ansible.errors import AnsibleFilterError

try:
    from govmail.model import addresses, names
except ImportError:  # not installed into this Python: use the checkout's copy
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "module_utils"))
    from govmail.model import addresses, names


def vn_slug(text: str) -> str:
    """``Ninh Phước`` → ``ninhphuoc``."""
    return names.vn_slug(str(text))


def person_base(name: str, given_name: str | None = None) -> str:
    """``Nguyễn Văn Bình`` → ``nvbinh`` (R5.2a)."""
    try:
        return names.person_base(str(name), given_name)
    except names.InvalidName as exc:
        raise AnsibleFilterError(f"person_base: name {name!r} {exc}") from exc


def org_address(org: dict, domain: str, province_code: str = "kh") -> list[str]:
    """The org's own addresses: ``skhcn@``, ``ctys.kh@``, or one per body for a commune (R5.1a/b/đ)."""
    kind = org.get("kind", "province_body")
    own = addresses.org_address(org["id"], kind, domain, province_code)
    if own:
        return [own]
    bodies = org.get("bodies", ["du", "ubnd", "hdnd"])
    return [addresses.body_address(body, org["id"], domain) for body in bodies]


def unit_address(unit_id: str, parent_id: str, domain: str) -> str:
    """``ppc`` under ``skhcn`` → ``ppc.skhcn@…`` (R5.1c/d)."""
    return addresses.unit_address(unit_id, parent_id, domain)


def person_address(name: str, org_id: str, domain: str, taken: list[str] | None = None, given_name=None) -> str:
    """The first free R5.2 address for a person, given the addresses already taken."""
    base = person_base(name, given_name)
    return addresses.first_free(base, org_id, domain, set(taken or []))


class FilterModule:
    def filters(self):
        return {
            "vn_slug": vn_slug,
            "person_base": person_base,
            "org_address": org_address,
            "unit_address": unit_address,
            "person_address": person_address,
        }
