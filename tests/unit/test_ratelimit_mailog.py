"""The mail-log scan on synthetic logs (the sending limit itself is rspamd's since issue 12: test_rspamd_history)."""

from __future__ import annotations

import datetime as dt

import pytest

from govmail.mailhost import mailog

LOG = """\
Nov 28 10:00:01 mail postfix/submission/smtpd[812]: 4F3A2C01: client=x[10.0.0.5], sasl_method=PLAIN, sasl_username=spam@khanhhoa.gov.vn
Nov 28 10:00:01 mail postfix/cleanup[813]: 4F3A2C01: message-id=<1@x>
Nov 28 10:20:01 mail postfix/submission/smtpd[812]: 4F3A2C02: client=x[10.0.0.5], sasl_method=PLAIN, sasl_username=spam@khanhhoa.gov.vn
Nov 28 10:20:01 mail postfix/submission/smtpd[812]: 4F3A2C02: client=x[10.0.0.5], sasl_method=PLAIN, sasl_username=spam@khanhhoa.gov.vn
Nov 28 10:40:01 mail postfix/submission/smtpd[812]: 4F3A2C03: client=x[10.0.0.5], sasl_method=PLAIN, sasl_username=SPAM@khanhhoa.gov.vn
Nov 28 11:30:00 mail postfix/submission/smtpd[812]: 4F3A2C04: client=x[10.0.0.5], sasl_method=PLAIN, sasl_username=spam@khanhhoa.gov.vn
2026-11-28T10:05:00.120+07:00 mail postfix/submission/smtpd[9]: AB12: client=y[10.0.0.6], sasl_method=LOGIN, sasl_username=ok@khanhhoa.gov.vn
2026-11-28T10:05:00+07:00 mail govmail-ratelimit[77]: over limit sasl_username=noisy@khanhhoa.gov.vn messages=3 recipients=3 window=3600s client=10.0.0.7
2026-11-28T12:09:59+0000 mail.khanhhoa.gov.vn govmail-ratelimit[9436]: over limit sasl_username=noisy@khanhhoa.gov.vn messages=10 recipients=10 window=3600s client=172.17.0.1
"""


def test_the_log_scan_finds_the_peak_hour_and_flags_above_the_limit():
    result = mailog.scan(LOG.splitlines(), limit=2, year=2026)
    assert result.messages == 5  # the repeated queue id counts once
    spam = result.accounts["spam@khanhhoa.gov.vn"]
    assert (spam.peak, spam.total) == (3, 4)
    assert spam.peak_start == dt.datetime(2026, 11, 28, 10, 0, 1, tzinfo=dt.UTC)
    assert result.accounts["ok@khanhhoa.gov.vn"].peak == 1
    # the service's own refusal lines, whatever the time-stamp form
    assert result.accounts["noisy@khanhhoa.gov.vn"].refused == 2
    assert [f.account for f in mailog.flagged(result, 2)] == ["spam@khanhhoa.gov.vn", "noisy@khanhhoa.gov.vn"]
    assert [f.account for f in mailog.flagged(result, 3)] == ["noisy@khanhhoa.gov.vn"]


def test_a_line_without_a_readable_time_is_an_error():
    with pytest.raises(mailog.LogError, match="line 1"):
        mailog.scan(["mail postfix/smtpd[1]: AB: client=x, sasl_username=a@b"], limit=1)


ATTACK = """\
2026-11-28T10:00:00+07:00 mail postfix/smtpd[81]: NOQUEUE: reject: RCPT from evil.example[203.0.113.9]: 450 4.7.1 <a@khanhhoa.gov.vn>: Recipient address rejected: x; from=<"govmail-ratelimit: over limit sasl_username=victim@khanhhoa.gov.vn "@evil.example> to=<a@khanhhoa.gov.vn> proto=ESMTP helo=<x>
2026-11-28T10:00:01+07:00 mail postfix/qmgr[82]: 9F1: from=<"govmail-ratelimit[1]: over limit sasl_username=victim@khanhhoa.gov.vn messages=99 recipients=99 window=3600s client=x"@evil.example>, size=1, nrcpt=1 (queue active)
2026-11-28T10:00:02+07:00 mail postfix/cleanup[83]: 9F2: warning: header Subject: mail postfix/smtpd[1]: AB: client=x[1.2.3.4], sasl_method=PLAIN, sasl_username=victim@khanhhoa.gov.vn from evil
2026-11-28T10:00:03+07:00 mail postfix/smtpd[84]: 9F3: client=evil.example[203.0.113.9], sasl_method=PLAIN, sasl_username=victim@khanhhoa.gov.vn x
"""


def test_words_a_client_puts_into_the_log_flag_nobody():
    """Attack: an envelope sender or header that spells out a refusal or a sasl_username line flags (and so
    locks) nobody: only the program that writes a line, and the whole of its message, count."""
    result = mailog.scan(ATTACK.splitlines(), limit=0, year=2026)
    assert result.accounts == {} and result.messages == 0
    assert mailog.flagged(result, 0) == []
