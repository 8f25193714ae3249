"""Synthetic account trees with realistic Vietnamese names and units, for the benchmark.

Deterministic for a given N and seed: the same tree every run, so figures compare.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

SURNAMES = (
    ["Nguyễn"] * 38
    + ["Trần"] * 11
    + ["Lê"] * 10
    + ["Phạm"] * 7
    + ["Hoàng", "Huỳnh"] * 4
    + ["Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"] * 2
    + ["Đinh", "Lâm", "Mai", "Trịnh", "Đoàn", "Lương", "Cao", "Tạ", "Châu", "Kiều"]
)
MIDDLES = ["Văn", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Viết", "Diễm", "Quốc", "Thu", "Hữu", "Công", "Kim", "Xuân"]
GIVENS = [
    "Anh", "Bình", "Hùng", "Hưng", "Lan", "Hà", "Sơn", "Tâm", "Huy", "Ngọc", "Nga", "Dũng", "Hải", "Hương",
    "Linh", "Long", "Mai", "Nam", "Phong", "Phương", "Quang", "Thảo", "Trang", "Tuấn", "Việt", "Yến", "Khoa",
]  # fmt: skip
TITLES = ["Chuyên viên", "Chuyên viên chính", "Phó Trưởng phòng", "Trưởng phòng", "Văn thư", "Kế toán", "Cán bộ"]
DEPARTMENTS = [
    ("skhcn", "Sở Khoa học và Công nghệ"),
    ("syt", "Sở Y tế"),
    ("stc", "Sở Tài chính"),
    ("sgddt", "Sở Giáo dục và Đào tạo"),
    ("snv", "Sở Nội vụ"),
    ("stp", "Sở Tư pháp"),
    ("sxd", "Sở Xây dựng"),
    ("snnmt", "Sở Nông nghiệp và Môi trường"),
    ("scth", "Sở Công Thương"),
    ("svhttdl", "Sở Văn hóa, Thể thao và Du lịch"),
    ("sdttg", "Sở Dân tộc và Tôn giáo"),
    ("sngv", "Sở Ngoại vụ"),
    ("ttra", "Thanh tra tỉnh"),
    ("vpubnd", "Văn phòng UBND tỉnh"),
    ("bqlkkt", "Ban Quản lý Khu kinh tế"),
]
UNITS = [("vp", "Văn phòng"), ("ptchc", "Phòng Tổ chức – Hành chính"), ("pkhtc", "Phòng Kế hoạch – Tài chính"),
         ("ppc", "Phòng Pháp chế"), ("pnv", "Phòng Nghiệp vụ")]  # fmt: skip


def _name(rng: random.Random) -> str:
    middles = rng.sample(MIDDLES, rng.choice([1, 1, 1, 2]))
    return " ".join([rng.choice(SURNAMES), *middles, rng.choice(GIVENS)])


def generate(root: Path, n: int, communes_file: Path, seed: int = 2026) -> Path:
    """Write accounts/ under ``root`` with ``n`` people; returns the accounts directory."""
    rng = random.Random(seed)
    accounts = root / "accounts"
    (accounts / "departments").mkdir(parents=True)
    (accounts / "communes").mkdir()
    (accounts / "province.yaml").write_text(
        "domain: khanhhoa.gov.vn\nprovince_code: kh\napprovers: [ttcds]\n"
        "reserved: [postmaster, abuse, hostmaster, webmaster, root, admin, noreply, hotrothudientu]\n"
        f"communes: {communes_file}\n"
        "system_accounts:\n  - {address: hotrothudientu@khanhhoa.gov.vn, name: Hỗ trợ thư điện tử}\n",
        encoding="utf-8",
    )
    reference = yaml.safe_load(communes_file.read_text(encoding="utf-8"))
    from govmail.model.names import vn_slug  # noqa: PLC0415 — after sys.path is set by the caller

    places = [(kind, name) for kind in ("commune", "ward", "special_zone") for name in reference.get(kind, [])]
    orgs = [("departments", oid, name, "province_body") for oid, name in DEPARTMENTS]
    orgs += [("communes", vn_slug(name), name, kind) for kind, name in places]
    people: dict[str, list[str]] = {org[1]: [] for org in orgs}
    for _ in range(n):
        oid = rng.choice(orgs)[1]
        unit = rng.choice(UNITS)[0] if rng.random() < 0.7 else None
        line = f"  - {{name: {_name(rng)}, title: {rng.choice(TITLES)}" + (f", unit: {unit}" if unit else "") + "}\n"
        people[oid].append(line)
    for folder, oid, name, kind in orgs:
        units = "units:\n" + "".join(f"  - {{id: {u}, name: {label}}}\n" for u, label in UNITS)
        quoted = json.dumps(name, ensure_ascii=False)  # names may hold commas
        body = f"org: {{id: {oid}, name: {quoted}, kind: {kind}, owners: [{oid}-it]}}\n{units}"
        if people[oid]:
            body += "people:\n" + "".join(people[oid])
        (accounts / folder / f"{oid}.yaml").write_text(body, encoding="utf-8")
    return accounts
