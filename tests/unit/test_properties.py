"""Property tests: normalisation is stable, allocation is unique, deterministic and idempotent."""

import re
import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govmail.model.addresses import accounts, allocate
from govmail.model.names import person_base, vn_slug
from govmail.model.rules import load_valid
from govmail.model.writer import write_allocations
from helpers import write_tree

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLES = ["Văn", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Viết", "Diễm", "Quốc", "Thu"]
GIVENS = ["Anh", "Bình", "Hùng", "Hưng", "Lan", "Hà", "Sơn", "Tâm", "Huy", "Ngọc", "Nga", "Dũng"]

names = st.builds(
    lambda s, m, g: " ".join([s, *m, g]),
    st.sampled_from(SURNAMES),
    st.lists(st.sampled_from(MIDDLES), max_size=2),
    st.sampled_from(GIVENS),
)


@given(st.text(max_size=40))
def test_slug_is_ascii_and_idempotent(text):
    slug = vn_slug(text)
    assert re.fullmatch(r"[a-z0-9]*", slug)
    assert vn_slug(slug) == slug


@given(names, st.sampled_from(["NFC", "NFD", "NFKC"]))
def test_person_base_ignores_the_unicode_form(name, form):
    base = person_base(unicodedata.normalize(form, name))
    assert base == person_base(name)
    assert re.fullmatch(r"[a-z][a-z0-9]*", base)


ORGS = ["skhcn", "syt", "stc"]


def _tree(root: Path, people: list[tuple[int, str]]) -> Path:
    files = {}
    for index, org in enumerate(ORGS):
        rows = "".join(f"  - {{name: {name}, title: CV}}\n" for o, name in people if o == index)
        files[f"{org}.yaml"] = f"org: {{id: {org}, name: Đơn vị {org}, kind: province_body, owners: [o]}}\n" + (
            "people:\n" + rows if rows else ""
        )
    return write_tree(root, files)


people_lists = st.lists(st.tuples(st.integers(0, len(ORGS) - 1), names), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people_lists, people_lists)
def test_allocation_is_unique_deterministic_idempotent_and_stable(first, later):
    with tempfile.TemporaryDirectory() as tmp:
        root = _tree(Path(tmp) / "a", first)
        twin = _tree(Path(tmp) / "b", first)
        one = [a for _, _, a in allocate(load_valid(root))]
        assert one == [a for _, _, a in allocate(load_valid(twin))]  # same tree, same result
        assert len(set(one)) == len(one) == len(first)
        write_allocations(allocate(load_valid(root)))
        assert allocate(load_valid(root)) == []  # idempotent

        # People added later never move an issued address, and all stay unique.
        issued = {a.name + a.address for a in accounts(load_valid(root)) if a.kind == "person"}
        for org_index, name in later:
            path = root / f"{ORGS[org_index]}.yaml"
            text = path.read_text(encoding="utf-8")
            if "people:" not in text:
                text += "people:\n"
            path.write_text(text + f"  - {{name: {name}, title: CV}}\n", encoding="utf-8")
        write_allocations(allocate(load_valid(root)))
        final = [a for a in accounts(load_valid(root)) if a.kind == "person"]
        assert issued <= {a.name + a.address for a in final}
        assert len({a.address for a in final}) == len(final) == len(first) + len(later)
