"""Operations (issue 12 §3–4): the backup job's bookkeeping, status checks over real HTTP, backup status files,
outage notices through a real SMTP server, and the quarterly report's backup section."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from smtp_sink import SmtpSink

from govmail.mailhost import backup
from govmail.ops import backups, outage, status
from govmail.workflow import report

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


# --- the backup job -----------------------------------------------------------------------------
def test_archives_with_age_orders_and_ages() -> None:
    listed = {
        "archives": [
            {"name": "h-2", "time": "2026-12-02T06:00:00.000000"},
            {"name": "h-1", "time": "2026-12-01T12:00:00"},
        ]
    }
    rows = backup.archives_with_age(listed, NOW)
    assert [r["name"] for r in rows] == ["h-1", "h-2"]
    assert [r["age_hours"] for r in rows] == [24.0, 6.0]


def test_prune_schedule_must_keep_something() -> None:
    assert backup.prune_args({"within": "2d", "daily": 7, "monthly": 12}) == [
        "--keep-within=2d",
        "--keep-daily=7",
        "--keep-monthly=12",
    ]
    with pytest.raises(backup.BackupError, match="keeps nothing"):
        backup.prune_args({})


def test_a_failed_run_keeps_the_last_success_and_flags_the_failure(tmp_path: Path) -> None:
    config = {
        "status_file": str(tmp_path / "status.json"),
        "textfile": str(tmp_path / "govmail_backup.prom"),
        "host": "h",
    }
    backup.write_status(config, {"archive": "h-1", "mail_messages": 3}, NOW)
    later = NOW + dt.timedelta(days=1)
    state = backup.write_status(config, {"error": "borg create failed (2): repository locked"}, later)
    assert state["last_success"] == NOW.isoformat(timespec="seconds")
    assert state["last_outcome"] == "failed" and "locked" in state["last_error"]
    prom = (tmp_path / "govmail_backup.prom").read_text()
    assert f"govmail_backup_last_success_timestamp_seconds {NOW.timestamp():.0f}" in prom
    assert "govmail_backup_last_run_failed 1" in prom
    backup.write_status(config, {"archive": "h-2"}, later)
    assert "govmail_backup_last_run_failed 0" in (tmp_path / "govmail_backup.prom").read_text()


def test_config_without_a_repository_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "backup.json"
    path.write_text(json.dumps({"passphrase_file": "/x", "staging_dir": "/s", "archive_prefix": "h-"}))
    with pytest.raises(backup.BackupError, match="missing repository"):
        backup.load_config(path)


# --- govmail status: metrics over real HTTP -------------------------------------------------------
class _Metrics(http.server.BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, str]] = {}

    def do_GET(self):
        body = self.pages.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def metrics_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Metrics.pages
    server.shutdown()
    _Metrics.pages.clear()


def test_backup_and_queue_checks_read_the_exporters(metrics_server) -> None:
    base, pages = metrics_server
    stamp = NOW.timestamp() - 3 * 3600
    pages["/node"] = (
        "# HELP x\nnode_load1 0.5\n"
        f"govmail_backup_last_success_timestamp_seconds {stamp:.0f}\ngovmail_backup_last_run_failed 0\n"
    )
    pages["/postfix"] = (
        'postfix_showq_message_age_seconds_count{queue="active"} 1\n'
        'postfix_showq_message_age_seconds_count{queue="deferred"} 2\n'
    )
    target = status.Target(node_metrics=f"{base}/node", postfix_metrics=f"{base}/postfix", max_queue=2)
    probe = status.Probe(target, now=NOW.timestamp)
    backup_check, queue_check = probe.backup(), probe.queue()
    assert backup_check.ok and "3.0 h ago" in backup_check.detail
    assert not queue_check.ok and "3 message(s) queued (active 1, deferred 2" in queue_check.detail

    probe.t.max_backup_age_hours = 2
    assert not probe.backup().ok
    pages["/node"] = pages["/node"].replace("last_run_failed 0", "last_run_failed 1")
    probe.t.max_backup_age_hours = 26
    stale = probe.backup()
    assert not stale.ok and "last run failed" in stale.detail
    pages["/node"] = "node_load1 0.5\n"
    assert "no successful backup" in probe.backup().detail
    assert not status.Probe(status.Target(node_metrics=f"{base}/missing")).backup().ok


def test_a_service_that_does_not_answer_is_one_failed_line() -> None:
    target = status.Target(host="127.0.0.1", smtp_port=1, submission_port=1, imaps_port=1, timeout=2)
    checks = status.Probe(target).run()
    lines = [c.line() for c in checks]
    assert all(line.startswith("FAIL") for line in lines), lines
    assert {c.name for c in checks} >= {"smtp", "submission", "imap", "ldap", "certificates", "queue", "backup"}


def test_metrics_parser_reads_labels_and_skips_comments() -> None:
    text = '# TYPE a gauge\na{x="1",y="two words"} 3.5\nb 7\nbad line\n'
    assert status.parse_metrics(text) == [("a", {"x": "1", "y": "two words"}, 3.5), ("b", {}, 7.0)]


# --- status files on the controller ---------------------------------------------------------------
def _status_files(folder: Path) -> None:
    (folder / "backup-status-mail1.json").write_text(
        json.dumps(
            {
                "host": "mail1",
                "last_success": "2026-12-02T01:30:00+00:00",
                "last_outcome": "success",
                "last_archive": {"archive": "mail1-x", "mail_messages": 12},
                "archives": [
                    {"name": "mail1-a", "time": "2026-12-01T01:30:00+00:00"},
                    {"name": "mail1-x", "time": "2026-12-02T01:30:00+00:00"},
                ],
            }
        )
    )
    (folder / "restore-drill.json").write_text(
        json.dumps({"finished": "2026-12-01T09:00:00+00:00", "ok": True, "figures": {"entries": 40, "messages": 9}})
    )


def test_backups_listing_and_summary(tmp_path: Path) -> None:
    _status_files(tmp_path)
    lines = backups.lines(backups.load_hosts(tmp_path), backups.load_drill(tmp_path), NOW)
    assert lines[0].startswith("mail1: last success 2026-12-02T01:30:00+00:00 (10.5 h ago)")
    assert "  mail1-a  2026-12-01T01:30:00+00:00  34.5 h ago" in lines
    assert lines[-1].startswith("restore drill: passed 2026-12-01T09:00:00+00:00")
    summary = backups.summary(tmp_path)
    assert summary["last_backup_host"] == "mail1" and summary["archives"] == 2 and summary["drill_ok"] is True


def test_a_malformed_status_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "backup-status-bad.json").write_text("[1, 2")
    with pytest.raises(backups.StatusError, match=r"backup-status-bad\.json: not a status file"):
        backups.load_hosts(tmp_path)
    (tmp_path / "backup-status-bad.json").write_text(json.dumps({"last_success": "yesterday"}))
    with pytest.raises(backups.StatusError, match="'yesterday' is not a time"):
        backups.load_hosts(tmp_path)


def test_report_quotes_the_last_backup_and_drill(tmp_path: Path) -> None:
    _status_files(tmp_path)
    data = report.Report(report.Quarter(2026, 4), dt.date(2026, 12, 2), None)
    data.deadline = {"requests": 0, "on_time": 0, "late": 0, "pending": 0, "average_days": None}
    data.operations = backups.summary(tmp_path)
    text = report.markdown(data)
    assert "Lần sao lưu thành công gần nhất: 01:30 02/12/2026 (UTC, máy mail1); số bản sao lưu đang giữ: 2." in text
    assert "Diễn tập khôi phục gần nhất: 09:00 01/12/2026 (UTC), đạt, không mất dữ liệu: 40 mục danh bạ, 9 thư." in text


# --- outage notices -------------------------------------------------------------------------------
def test_outage_arguments_are_checked() -> None:
    with pytest.raises(outage.OutageError, match="end 2026-12-05T20:00 is not after start"):
        outage.Outage.parse("2026-12-05T22:00", "2026-12-05T20:00", "bảo trì")
    with pytest.raises(outage.OutageError, match="start: 'tomorrow' is not a time"):
        outage.Outage.parse("tomorrow", "2026-12-05T20:00", "bảo trì")
    with pytest.raises(outage.OutageError, match="reason: empty"):
        outage.Outage.parse("2026-12-05T20:00", "2026-12-05T22:00", "  ")


def test_outage_notice_goes_out_in_batches_and_is_logged_once(tmp_path: Path) -> None:
    notice = outage.Outage.parse("2026-12-05T22:00", "2026-12-06T02:30", "nâng cấp máy chủ")
    to = [f"u{i}@khanhhoa.gov.vn" for i in range(5)]
    log = tmp_path / "outage.log"
    pauses = []
    with SmtpSink() as sink:
        channel = outage.SmtpChannel(host="127.0.0.1", port=sink.port)
        results = outage.send(
            notice, to, channel=channel, sender="hotro@khanhhoa.gov.vn", domain="khanhhoa.gov.vn",
            log=log, batch_size=2, pause=1.5, sleep=pauses.append,
        )  # fmt: skip
        sink.wait(5)
        assert len(sink.messages) == 5
        msg = sink.messages[0]
        assert msg["From"] == "hotro@khanhhoa.gov.vn"
        assert msg["Subject"] == "Thông báo tạm ngừng dịch vụ thư điện tử công vụ từ 22 giờ 00 ngày 05/12/2026"
        body = msg.get_content()
        assert "dự kiến khôi phục dịch vụ: 02 giờ 30 ngày 06/12/2026" in body and "nâng cấp máy chủ" in body
        assert [r["batch"] for r in results] == [1, 1, 2, 2, 3]
        assert pauses == [1.5, 1.5]
        again = outage.send(notice, [*to, "new@khanhhoa.gov.vn"], channel=channel, sender="hotro@khanhhoa.gov.vn",
                            domain="khanhhoa.gov.vn", log=log, batch_size=2, pause=0)  # fmt: skip
        sink.wait(6)
        assert len(sink.messages) == 6 and sink.messages[-1]["To"] == "new@khanhhoa.gov.vn"
    assert sum(r["result"] == "already sent" for r in again) == 5
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [e["to"] for e in entries] == [*to, "new@khanhhoa.gov.vn"]
    assert {e["result"] for e in entries} == {"sent"} and entries[0]["notice"] == notice.ident


def test_sla_digest_mails_the_deadline_table_to_the_operator() -> None:
    from govmail.cli.main import main

    root = Path(__file__).resolve().parents[2]
    with SmtpSink() as sink:
        code = main(
            ["sla-digest", "--to", "ttcds@khanhhoa.gov.vn", "--smtp", f"127.0.0.1:{sink.port}", "--repo", str(root)]
        )
        sink.wait(1)
    assert code in (0, 1)
    [msg] = sink.messages
    assert msg["To"] == "ttcds@khanhhoa.gov.vn" and msg["From"] == "hotrothudientu@khanhhoa.gov.vn"
    assert msg["Subject"].startswith("Thời hạn giải quyết đề nghị")
    assert "request(s);" in msg.get_content()
    assert (code == 1) == ("quá hạn" in msg["Subject"])
