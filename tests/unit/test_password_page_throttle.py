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


def test_the_throttle_memory_is_bounded_by_max_keys():
    now = [0.0]
    throttle = Throttle(limit=5, window=900, clock=lambda: now[0], max_keys=100)
    throttle.fail("victim")
    for i in range(10_000):  # a spray of random addresses
        now[0] += 0.01
        throttle.fail(f"random{i}")
    assert len(throttle.events) <= 100
    assert all(len(times) <= 5 for times in throttle.events.values())
    for _ in range(50):  # one key failing over and over keeps at most `limit` times
        throttle.fail("noisy")
    assert len(throttle.events["noisy"]) == 5
    assert throttle.blocked("noisy")
