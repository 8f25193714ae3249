"""The per-file cache of parse and check results (model/filecache.py): a hit gives exactly what a
fresh load gives, and a change to any input the result depends on is a miss."""

from __future__ import annotations

import datetime as real_dt
import types

import pytest

from govmail.model import filecache, rules, tree
from govmail.model.addresses import accounts
from govmail.model.problems import InvalidTree
from helpers import PROVINCE, write_tree

SYT = """\
org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt-it]}
units:
  - {id: vp, name: Văn phòng}
people:
  - {name: Nguyễn Văn Bình, title: Chuyên viên, unit: vp, address: nvbinh@khanhhoa.gov.vn}
  - name: Trần Thị Lan
    title: Kế toán
    address: ttlan@khanhhoa.gov.vn
"""
STC = """\
org: {id: stc, name: Sở Tài chính, kind: province_body, owners: [stc-it]}
people:
  - {name: Lê Văn Hùng, title: Văn thư, address: lvhung@khanhhoa.gov.vn}
"""
COMMUNE = """\
org: {id: ninhphuoc, name: Ninh Phước, kind: commune, owners: [np-it]}
"""
COMMUNES = "commune: [Ninh Phước]\nward: []\nspecial_zone: []\n"


@pytest.fixture
def parsed(monkeypatch, tmp_path):
    """A fresh cache directory, and the unit files that load() had to parse (the misses)."""
    monkeypatch.setenv("GOVMAIL_CACHE_DIR", str(tmp_path / "cache"))
    seen: list[str] = []
    real = tree.parse

    def counting(path, text=None):
        if not str(path).endswith("province.yaml") and "communes" not in str(path).rsplit("/", 1)[-1]:
            seen.append(str(path).rsplit("/", 1)[-1])
        return real(path, text)

    monkeypatch.setattr(tree, "parse", counting)
    return seen


def _tree(tmp_path):
    root = write_tree(
        tmp_path / "accounts",
        {"departments/syt.yaml": SYT, "departments/stc.yaml": STC, "communes/ninhphuoc.yaml": COMMUNE},
        PROVINCE + "communes: ../communes.yaml\n",
    )
    (tmp_path / "communes.yaml").write_text(COMMUNES, encoding="utf-8")
    return root


def _load(root, parsed) -> tuple[list[str], list]:
    parsed.clear()
    try:
        result = rules.load_valid(root)
        problems = []
    except InvalidTree as exc:
        result, problems = None, [str(p) for p in exc.problems]
    names = sorted(parsed)
    if result is not None:
        problems = [a.as_dict() for a in accounts(result, [])]
    return names, problems


def test_unchanged_files_are_not_parsed_again_and_give_the_same_tree(tmp_path, parsed):
    root = _tree(tmp_path)
    first, accounts_first = _load(root, parsed)
    assert first == ["ninhphuoc.yaml", "stc.yaml", "syt.yaml"]
    again, accounts_again = _load(root, parsed)
    assert again == []
    assert accounts_again == accounts_first  # addresses, names, units, file and line of every account
    # the writer and the request flow still get the nodes of a cached file (parsed on demand)
    loaded = rules.load_valid(root)
    syt = next(o for o in loaded.orgs if o.id == "syt")
    assert not syt.source.complete
    assert syt.source.nodes[("people", 1)].start_mark.line + 1 == 6
    assert syt.source.line_of(("people", 1, "title")) == 7


@pytest.mark.parametrize(
    ("change", "misses"),
    [
        ("the file's bytes", ["stc.yaml"]),
        ("the file's path", ["stc.yaml"]),
        ("province.yaml", ["ninhphuoc.yaml", "stc.yaml", "syt.yaml"]),
        ("the reference list of communes", ["ninhphuoc.yaml", "stc.yaml", "syt.yaml"]),
        ("the engine", ["ninhphuoc.yaml", "stc.yaml", "syt.yaml"]),
    ],
)
def test_a_change_to_any_input_is_a_miss(tmp_path, parsed, monkeypatch, change, misses):
    root = _tree(tmp_path)
    _load(root, parsed)
    assert _load(root, parsed)[0] == []
    if change == "the file's bytes":
        (root / "departments/stc.yaml").write_text(STC.replace("Văn thư", "Chuyên viên"), encoding="utf-8")
    elif change == "the file's path":
        (root / "departments/stc.yaml").rename(root / "stc.yaml")
    elif change == "province.yaml":
        (root / "province.yaml").write_text(PROVINCE + "communes: ../communes.yaml\n# reviewed\n", encoding="utf-8")
    elif change == "the reference list of communes":
        (tmp_path / "communes.yaml").write_text(COMMUNES.replace("[]\nspecial", "[Phan Rang]\nspecial"), "utf-8")
    else:  # a new engine version: any change to the model package's source
        monkeypatch.setattr(filecache, "engine_fingerprint", lambda: "another engine")
    assert _load(root, parsed)[0] == misses


def test_a_cached_result_depends_on_the_reference_list(tmp_path, parsed):
    """The commune rule reads the reference list: dropping the commune from it must be reported."""
    root = _tree(tmp_path)
    assert _load(root, parsed)[1]  # valid
    (tmp_path / "communes.yaml").write_text(COMMUNES.replace("[Ninh Phước]", "[]"), encoding="utf-8")
    names, problems = _load(root, parsed)
    assert names == ["ninhphuoc.yaml", "stc.yaml", "syt.yaml"]
    assert any("not in the province's reference list" in p for p in problems), problems


def test_problems_come_back_from_the_cache_exactly(tmp_path, parsed):
    root = _tree(tmp_path)
    (root / "departments/stc.yaml").write_text(STC.replace("title: Văn thư", "title: Văn thư, colour: red"), "utf-8")
    (root / "departments/bad.yaml").write_text("org: {id: bad\n", encoding="utf-8")  # a syntax error
    names, problems = _load(root, parsed)
    assert "stc.yaml" in names and "bad.yaml" in names
    again, problems_again = _load(root, parsed)
    assert again == []
    assert problems_again == problems
    assert any("stc.yaml:3: people[0].colour: unknown field" in p for p in problems), problems
    assert any("bad.yaml" in p and "YAML syntax error" in p for p in problems), problems


def test_a_date_in_the_future_is_judged_on_the_day_of_the_run_not_of_the_cache(tmp_path, parsed, monkeypatch):
    root = _tree(tmp_path)
    suspended = "    status: suspended\n    reason: inactive\n    since: 2031-05-01\n"
    (root / "departments/stc.yaml").write_text(
        STC.replace("  - {name: Lê Văn Hùng, title: Văn thư, address: lvhung@khanhhoa.gov.vn}\n",
                    "  - name: Lê Văn Hùng\n    title: Văn thư\n    address: lvhung@khanhhoa.gov.vn\n" + suspended),
        encoding="utf-8",
    )  # fmt: skip

    class Day(real_dt.date):
        today_is = real_dt.date(2031, 4, 30)

        @classmethod
        def today(cls):
            return cls.today_is

    monkeypatch.setattr(rules, "dt", types.SimpleNamespace(date=Day))
    _, problems = _load(root, parsed)
    assert problems == [f"{root}/departments/stc.yaml:8: people[0].since: 2031-05-01 is in the future"]
    Day.today_is = real_dt.date(2031, 5, 2)
    names, problems = _load(root, parsed)
    assert names == [] and isinstance(problems[0], dict)  # a hit, and valid on the later day


def test_the_cache_can_be_turned_off(tmp_path, parsed, monkeypatch):
    root = _tree(tmp_path)
    monkeypatch.setenv("GOVMAIL_CACHE_DIR", "off")
    assert _load(root, parsed)[0] == ["ninhphuoc.yaml", "stc.yaml", "syt.yaml"]
    assert _load(root, parsed)[0] == ["ninhphuoc.yaml", "stc.yaml", "syt.yaml"]
    assert not (tmp_path / "cache").exists()


def test_a_damaged_entry_is_a_miss(tmp_path, parsed):
    root = _tree(tmp_path)
    _load(root, parsed)
    for entry in (tmp_path / "cache").rglob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    assert _load(root, parsed)[0] == ["ninhphuoc.yaml", "stc.yaml", "syt.yaml"]
