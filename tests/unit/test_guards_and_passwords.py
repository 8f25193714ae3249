"""Removal guards (pure) and the R6.2 password rule."""

import pytest

from govmail.directory.converge import Guards, GuardTripped
from govmail.directory.plan import Change
from govmail.model.passwords import generate, quality_problems


def _revokes(org, n):
    return [Change("revoke", f"{org}{i}@x", "person", org, None, "N", "revoked") for i in range(n)]


def _live(org, n):
    return [{"address": f"{org}{i}@x", "org": org, "status": "active"} for i in range(n)]


def test_share_guard_counts_per_unit_and_spares_tiny_units():
    current = _live("a", 10) + _live("b", 2)
    Guards(max_removals=50, max_removal_share=0.25).check(_revokes("a", 2) + _revokes("b", 2), current, False)
    with pytest.raises(GuardTripped, match=r"a: 3 of its 10 accounts would go \(30% > 25%\)"):
        Guards(max_removals=50, max_removal_share=0.25).check(_revokes("a", 3), current, False)


def test_total_guard_and_override():
    current = _live("a", 100)
    with pytest.raises(GuardTripped, match=r"11 accounts would be revoked or removed \(limit 10\)"):
        Guards(max_removals=10, max_removal_share=1.0).check(_revokes("a", 11), current, False)
    Guards(max_removals=10, max_removal_share=0.0, override=True).check(_revokes("a", 11), current, False)


def test_drift_counts_only_when_it_would_be_removed():
    drift = [Change("drift", f"d{i}@x", "person", "a", None, "N", "active") for i in range(20)]
    Guards(max_removals=10).check(drift, _live("a", 100), remove_drift=False)
    with pytest.raises(GuardTripped):
        Guards(max_removals=10).check(drift, _live("a", 100), remove_drift=True)


def test_generated_passwords_meet_r62_and_differ():
    made = {generate() for _ in range(200)}
    assert len(made) == 200
    assert all(len(p) == 16 and not quality_problems(p) for p in made)
    with pytest.raises(ValueError):
        generate(7)


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("Ab1!", ["at least 8 characters"]),
        ("abcdefg1!", ["an upper-case letter"]),
        ("ABCDEFG1!", ["a lower-case letter"]),
        ("Abcdefgh!", ["a digit"]),
        ("Abcdefgh1", ["a special character such as ! @ # % $ * & ^"]),
        ("Xx!9nvbinh", ["not the address", "not a word of the name"]),
        ("Xx!9nv.Nguyen", ["not a word of the name"]),
        ("Bình!2026x", ["not a word of the name"]),
        ("Qk7#mPz2!w", []),
    ],
)
def test_quality_rule(password, problems):
    assert quality_problems(password, address="nvbinh@khanhhoa.gov.vn", name="Nguyễn Văn Bình") == problems
