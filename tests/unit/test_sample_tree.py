"""The committed accounts/ tree: valid, fully allocated, and reproducible from scratch."""

import re
import shutil

from govmail.model.addresses import accounts, allocate
from govmail.model.rules import load_valid
from govmail.model.writer import write_allocations
from helpers import REPO

SAMPLE = REPO / "accounts"
# Addresses that were issued before govmail (written by hand in the sample): kept on a re-run.
HAND_WRITTEN = {"nvhung@khanhhoa.gov.vn", "hdanh@khanhhoa.gov.vn"}


def test_sample_is_valid_and_allocated():
    tree = load_valid(SAMPLE)
    assert allocate(tree) == []
    assert len({a.address for a in accounts(tree)}) == len(accounts(tree))


def test_allocating_the_sample_from_scratch_gives_the_committed_addresses(tmp_path):
    copy = tmp_path / "accounts"
    shutil.copytree(SAMPLE, copy)
    shutil.copytree(REPO / "data", tmp_path / "data")
    committed = {}
    for path in copy.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        for address in re.findall(r"^ +address: (\S+)\n", text, flags=re.M):
            committed[address] = path.name
        stripped = re.sub(r"^ +address: (\S+)\n", lambda m: m[0] if m[1] in HAND_WRITTEN else "", text, flags=re.M)
        path.write_text(stripped, encoding="utf-8")
    write_allocations(allocate(load_valid(copy)))
    again = {}
    for path in copy.rglob("*.yaml"):
        for address in re.findall(r"^ +address: (\S+)\n", path.read_text(encoding="utf-8"), flags=re.M):
            again[address] = path.name
    assert again == committed
    assert {path.name: path.read_bytes() for path in copy.rglob("*.yaml")} == {
        path.name: path.read_bytes() for path in SAMPLE.rglob("*.yaml")
    }
