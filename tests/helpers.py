"""Helpers for tests: small account trees written into a temporary directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROVINCE = """\
domain: khanhhoa.gov.vn
province_code: kh
approvers: [ttcds]
reserved: [postmaster, abuse, admin, hotrothudientu]
system_accounts:
  - {address: hotrothudientu@khanhhoa.gov.vn, name: Hỗ trợ thư điện tử}
"""


def write_tree(root: Path, files: dict[str, str], province: str | None = PROVINCE) -> Path:
    """Write ``files`` (relative path → YAML text, dedented) plus a province file under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    if province is not None:
        (root / "province.yaml").write_text(province, encoding="utf-8")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes, to prove that nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def local_inventory(path: Path, ldap: dict, **extra_vars) -> Path:
    """An inventory where this machine is both the controller and the `mail` host, pointed at ``ldap``."""
    import sys

    import yaml

    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    ldap_vars = {
        "govmail_ldap_uri": ldap["server_uri"],
        "govmail_ldap_bind_dn": ldap["bind_dn"],
        "govmail_ldap_bind_pw": ldap["bind_pw"],
        "govmail_ldap_suffix": ldap["base_dn"],
    }
    inventory = {
        "all": {
            "hosts": {"localhost": local},
            "children": {"mail": {"hosts": {"localhost": local}}},
            "vars": {**ldap_vars, **extra_vars},
        }
    }
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    return path


def spy_cli(folder: Path, real: str) -> tuple[Path, Path]:
    """A stand-in for the govmail command that records every argv and environment it is started with
    (what `ps` and /proc show), then runs the real command."""
    record = folder / "spy.log"
    script = folder / "govmail-spy"
    script.write_text(f'#!/bin/sh\n{{ printf "%s\\n" "$@"; env; }} >> "{record}"\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    return script, record
