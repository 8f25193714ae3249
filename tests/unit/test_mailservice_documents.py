"""The documents the web server publishes for mail clients and servers (issue 12 §2): the MTA-STS policy and
Thunderbird's autoconfiguration, as the webfront role's filters render them from govmail.mailhost.dns."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from govmail.mailhost import dns

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "filter_plugins"))
import govmail_mailservice as filters


def test_the_served_policy_is_the_one_whose_hash_the_record_carries():
    policy = filters.govmail_mta_sts_policy("Mail.Khanhhoa.gov.vn.", "enforce", 604800)
    assert policy == "version: STSv1\nmode: enforce\nmx: mail.khanhhoa.gov.vn\nmax_age: 604800\n"
    record = {(r.name, r.rtype): r.value for r in dns.records("khanhhoa.gov.vn")}
    assert (
        record[("_mta-sts.khanhhoa.gov.vn", "TXT")] == f"v=STSv1; id={hashlib.sha256(policy.encode()).hexdigest()[:20]}"
    )
    with pytest.raises(Exception, match="enforce, testing or none"):
        filters.govmail_mta_sts_policy("mail.khanhhoa.gov.vn", "strict")


def test_autoconfig_names_the_srv_records_servers_and_escapes_the_name():
    text = filters.govmail_autoconfig("khanhhoa.gov.vn", None, "Thư <công vụ> & tỉnh")
    root = ElementTree.fromstring(text)
    provider = root.find("emailProvider")
    assert provider.findtext("displayName") == "Thư <công vụ> & tỉnh"
    servers = {s.get("type"): (s.findtext("hostname"), s.findtext("port"), s.findtext("socketType"))
               for s in (provider.find("incomingServer"), provider.find("outgoingServer"))}  # fmt: skip
    assert servers == {
        "imap": ("mail.khanhhoa.gov.vn", "993", "SSL"),
        "smtp": ("mail.khanhhoa.gov.vn", "587", "STARTTLS"),
    }
    srv = {r.name: r.value for r in dns.records("khanhhoa.gov.vn") if r.rtype == "SRV"}
    assert srv == {"_submission._tcp.khanhhoa.gov.vn": "0 1 587 mail.khanhhoa.gov.vn",
                   "_imaps._tcp.khanhhoa.gov.vn": "0 1 993 mail.khanhhoa.gov.vn"}  # fmt: skip
    with pytest.raises(Exception, match="not a domain"):
        filters.govmail_autoconfig("localhost")
