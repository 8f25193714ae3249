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
