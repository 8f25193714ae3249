"""Mailbox archives: the maildir path (no Dovecot on this machine), verification, idempotence."""

import datetime as dt
import hashlib
import tarfile

import pytest

from govmail.mailhost.mailbox import ArchiveError, archive

DAY = dt.date(2026, 11, 28)


def _maildir(root, messages):
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(messages):
        (root / "cur" / f"{i}.msg:2,S").write_bytes(f"Subject: {i}\n\nbody {i}\n".encode())
    (root / "dovecot-uidlist").write_text("3 V1 N1\n")


def test_archive_of_a_maildir_is_verified_and_checksummed(tmp_path):
    maildir = tmp_path / "vmail/khanhhoa.gov.vn/lvtam"
    _maildir(maildir, 3)
    record = archive("lvtam@khanhhoa.gov.vn", maildir, tmp_path / "archive", today=DAY, doveadm="no-such-doveadm")
    path = tmp_path / "archive/2026/20261128-lvtam@khanhhoa.gov.vn.tar.gz"
    assert record["path"] == str(path)
    assert record["verified"] and record["created"] and record["messages"] == 3
    assert record["method"] == "maildir copy"
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert path.with_name(path.name + ".sha256").read_text() == f"{record['sha256']}  {path.name}\n"
    with tarfile.open(path) as tar:
        assert "lvtam@khanhhoa.gov.vn/cur/2.msg:2,S" in tar.getnames()
    assert not list(path.parent.glob(".*"))  # no partial files left behind
    assert not list(maildir.parent.glob(".govmail-archive-*"))  # nor staging copies beside the maildirs


def test_archive_is_idempotent_per_day_and_redone_when_tampered(tmp_path):
    maildir = tmp_path / "m"
    _maildir(maildir, 1)
    first = archive("a@x", maildir, tmp_path / "ar", today=DAY, doveadm="no-such-doveadm")
    again = archive("a@x", maildir, tmp_path / "ar", today=DAY, doveadm="no-such-doveadm")
    assert (again["created"], again["sha256"]) == (False, first["sha256"])
    with open(first["path"], "ab") as handle:
        handle.write(b"tampered")
    redone = archive("a@x", maildir, tmp_path / "ar", today=DAY, doveadm="no-such-doveadm")
    assert redone["created"] and redone["verified"]


def test_a_mailbox_that_never_received_mail_still_gets_an_archive(tmp_path):
    record = archive("new@x", tmp_path / "absent", tmp_path / "ar", today=DAY, doveadm="no-such-doveadm")
    assert record["verified"] and record["messages"] == 0


def test_an_archive_that_does_not_match_the_copy_is_refused_and_removed(tmp_path, monkeypatch):
    from govmail.mailhost import mailbox

    maildir = tmp_path / "m"
    _maildir(maildir, 2)
    real = mailbox._files
    monkeypatch.setattr(mailbox, "_files", lambda root: {**real(root), "cur/lost.msg": 10})
    with pytest.raises(ArchiveError, match="does not hold what was copied"):
        archive("a@x", maildir, tmp_path / "ar", today=DAY, doveadm="no-such-doveadm")
    assert [p.name for p in (tmp_path / "ar/2026").iterdir()] == []
