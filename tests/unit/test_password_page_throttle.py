"""The password page's sign-in throttle on a controlled clock."""

from __future__ import annotations

from govmail.password_page.app import Throttle


def test_the_throttle_blocks_at_the_limit_and_forgets_after_the_window():
    now = [0.0]
    throttle = Throttle(limit=3, window=900, clock=lambda: now[0])
    for _ in range(3):
        assert not throttle.blocked("nvbinh")
        throttle.fail("nvbinh")
    assert throttle.blocked("nvbinh")
    assert not throttle.blocked("pqhuy")
    now[0] = 901
    assert not throttle.blocked("nvbinh")
    assert throttle.events == {}  # nothing kept for quiet keys
