"""Moving a mailbox between backends (issue 14 §3, playbooks/move.yml): what the front still holds for
it, and the check that the new backend has every message before the old copy is put aside."""

from __future__ import annotations

import json

import pytest

from govmail.mailhost import move


def _queued(queue: str, *recipients: str) -> str:
    return json.dumps({"queue_name": queue, "queue_id": "ABC", "recipients": [{"address": r} for r in recipients]})


def test_only_messages_already_routed_count_as_in_flight():
    lines = "\n".join([
        _queued("active", "a@khanhhoa.gov.vn", "b@khanhhoa.gov.vn"),
        _queued("active", "A@khanhhoa.gov.vn"),
        _queued("deferred", "a@khanhhoa.gov.vn"),  # routed again, by the new backend
        _queued("active", "c@khanhhoa.gov.vn"),
        '{"queue_name": "active", "recip',  # torn by a concurrent change
    ])  # fmt: skip
    assert move.in_flight(lines, "a@khanhhoa.gov.vn") == 2
    assert move.in_flight("", "a@khanhhoa.gov.vn") == 0


def test_counts_read_doveadm_tab_output_with_its_header():
    out = "mailbox\tmessages\nINBOX\t12\nSent\t3\nThư mục/Con\t0\n"
    assert move.counts(out) == {"INBOX": 12, "Sent": 3, "Thư mục/Con": 0}
    assert move.counts("INBOX\t4\n") == {"INBOX": 4}


def test_the_new_backend_may_hold_more_never_less():
    assert move.check_copied({"INBOX": 5, "Sent": 1}, {"INBOX": 7, "Sent": 1, "Junk": 0}) == {"old": 6, "new": 8}
    with pytest.raises(move.NotCopied, match="INBOX: 4 of 5"):
        move.check_copied({"INBOX": 5}, {"INBOX": 4})
    with pytest.raises(move.NotCopied, match="Sent: 0 of 1"):
        move.check_copied({"INBOX": 5, "Sent": 1}, {"INBOX": 5})


def test_the_old_copy_is_put_aside_not_deleted(tmp_path):
    home = tmp_path / "khanhhoa.gov.vn" / "a"
    (home / "Maildir" / "cur").mkdir(parents=True)
    (home / "Maildir" / "cur" / "1").write_text("x")
    aside = move.retire("a@khanhhoa.gov.vn", str(tmp_path), "20261202T000000Z")
    assert not home.exists()
    assert (tmp_path / ".moved" / "a@khanhhoa.gov.vn-20261202T000000Z" / "Maildir" / "cur" / "1").read_text() == "x"
    assert aside.endswith("a@khanhhoa.gov.vn-20261202T000000Z")
    assert move.retire("a@khanhhoa.gov.vn", str(tmp_path), "again") is None


class _Doveadm:
    """Answers of doveadm sync, in order: None for success, else the error _run raises."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def __call__(self, argv):
        self.calls.append(argv)
        answer = self.answers.pop(0)
        if answer:
            raise RuntimeError(answer)
        return ""


def test_a_stalled_or_desynced_sync_is_run_again_with_a_stall_bound():
    stalled = "doveadm sync ...: exit 75: Error: dsync(mail2): I/O has stalled, no activity for 30 seconds"
    doveadm = _Doveadm(stalled, "doveadm sync ...: exit 2: mailbox changed", None)
    assert move.sync("a@khanhhoa.gov.vn", "mail2.khanhhoa.gov.vn", 12345, runner=doveadm) == 3
    assert doveadm.calls[0] == ["doveadm", "sync", "-T", "30", "-u", "a@khanhhoa.gov.vn",
                                "tcps:mail2.khanhhoa.gov.vn:12345"]  # fmt: skip


def test_a_sync_that_keeps_stalling_or_fails_otherwise_stops_the_move():
    stalled = "exit 75: Error: Timeout during state=sync_mails"
    with pytest.raises(RuntimeError, match="Timeout during state"):
        move.sync("a@khanhhoa.gov.vn", "mail2", 12345, attempts=3, runner=_Doveadm(stalled, stalled, stalled))
    refused = _Doveadm("exit 1: Error: tcps:mail2:12345: certificate verification failed", None)
    with pytest.raises(RuntimeError, match="certificate"):
        move.sync("a@khanhhoa.gov.vn", "mail2", 12345, runner=refused)
    assert len(refused.calls) == 1
