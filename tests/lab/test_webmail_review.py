"""Issue 13 §3 on the lab (R10.5): `govmail review send` mails a unit's list to the unit's real mailbox
through the lab's MX, with the last login read from the lab's directory; the unit's confirmation is
recorded with `govmail attest`, and `govmail report --quarter` counts it."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from .conftest import ACCOUNTS, CONTAINER, DOMAIN, PROVISIONER, Lab, in_lab, strong_password

GOVMAIL = str(Path(sys.executable).with_name("govmail"))


def _delivered(address: str, subject_part: str, wait: float = 30):
    deadline = time.monotonic() + wait
    while True:
        out = subprocess.run(["docker", "exec", CONTAINER, "doveadm", "fetch", "-u", address, "text", "mailbox",
                              "INBOX", "all"], capture_output=True, text=True, check=False)  # fmt: skip
        for record in out.stdout.split("\f"):
            raw = record.strip("\n").removeprefix("text:").lstrip("\n")
            if raw:
                message = email.message_from_string(raw, policy=email.policy.default)
                if subject_part in str(message["Subject"]):
                    return message
        assert time.monotonic() < deadline, f"no message {subject_part!r} for {address}: {out.stderr}"
        time.sleep(0.5)


def test_a_unit_gets_its_list_confirms_and_the_report_counts_it(lab: Lab, make_account, tmp_path) -> None:
    person = make_account()
    assert person.imap_login()  # a login: the directory stamps pwdLastSuccess (the "last activity")
    org_id = f"t{secrets.token_hex(3)}"
    mailbox = f"{org_id}@{DOMAIN}"
    with lab.provisioner() as conn:  # the unit's own mailbox, as the engine creates it
        assert conn.add(f"uid={org_id},{ACCOUNTS}", attributes={
            "objectClass": ["inetOrgPerson", "govmailAccount"], "uid": org_id, "cn": "Phòng thử nghiệm",
            "sn": "Phòng thử nghiệm", "mail": mailbox, "govmailState": "active", "govmailManaged": "TRUE",
            "govmailKind": "org", "govmailOrg": org_id, "userPassword": strong_password(),
        }), conn.result  # fmt: skip
    repo = tmp_path / "repo"
    accounts = repo / "accounts"
    (accounts / "departments").mkdir(parents=True)
    (accounts / "province.yaml").write_text(textwrap.dedent(f"""\
        domain: {DOMAIN}
        province_code: kh
        approvers: [ttcds]
        reserved: [postmaster, abuse, hotrothudientu]
        system_accounts:
          - {{address: hotrothudientu@{DOMAIN}, name: Hỗ trợ thư điện tử}}
        """), encoding="utf-8")  # fmt: skip
    (accounts / f"departments/{org_id}.yaml").write_text(textwrap.dedent(f"""\
        org: {{id: {org_id}, name: Phòng thử nghiệm, kind: province_body, owners: [ttcds]}}
        units: [{{id: ktra, name: Tổ kiểm tra}}]
        people:
          - name: Người Thử Nghiệm
            title: Chuyên viên
            unit: ktra
            address: {person.mail}
        """), encoding="utf-8")  # fmt: skip
    git = ["git", "-c", "user.name=op", "-c", "user.email=op@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "tree"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    env = dict(os.environ, GOVMAIL_LDAP_BIND_PW=lab.provisioner_password)
    try:
        sent = subprocess.run(
            [GOVMAIL, "review", "send", str(accounts), "--quarter", "2026Q4", "--unit", org_id,
             "--smtp", "127.0.0.1", "--smtp-port", str(lab.ports[25]),
             "--ldap", f"ldap://127.0.0.1:{lab.ports[389]}", "--start-tls", "--ca", str(lab.ca), "--bind-dn", PROVISIONER],
            capture_output=True, text=True, env=env, check=False, timeout=120,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        message = _delivered(mailbox, f"[govmail-review 2026Q4 {org_id}]")
        body = message.get_content()
        today = dt.datetime.now(dt.UTC).date()
        assert "Kính gửi Phòng thử nghiệm," in body
        assert "Người Thử Nghiệm — Chuyên viên; Tổ kiểm tra" in body
        assert f"{person.mail} — đang hoạt động; đăng nhập gần nhất: " in body
        last = body.split(f"{person.mail} — đang hoạt động; đăng nhập gần nhất: ", 1)[1][:10]
        assert abs((dt.datetime.strptime(last, "%d/%m/%Y").date() - today).days) <= 1
        assert f"mailto:hotrothudientu@{DOMAIN}?subject=%5Bgovmail-review%202026Q4%20{org_id}%5D%20X%C3%81C" in body
        # the unit confirms (the one-step reply); the operator records it, the report counts it
        attest = subprocess.run([GOVMAIL, "attest", org_id, "--quarter", "2026Q4", "--dir", "accounts", "--repo", "."],
                                cwd=repo, capture_output=True, text=True, check=False,
                                env=dict(os.environ, GIT_AUTHOR_NAME="op", GIT_AUTHOR_EMAIL="op@localhost",
                                         GIT_COMMITTER_NAME="op", GIT_COMMITTER_EMAIL="op@localhost"))  # fmt: skip
        assert attest.returncode == 0, attest.stderr
        out = tmp_path / "bao-cao"
        report = subprocess.run([GOVMAIL, "report", "--quarter", "2026Q4", "--today", "2026-12-31", "--repo", str(repo),
                                 "--output", str(out)], capture_output=True, text=True, check=False)  # fmt: skip
        assert report.returncode == 0, report.stderr
        text = out.with_suffix(".md").read_text(encoding="utf-8")
        assert "- Đã xác nhận: 1 (Phòng thử nghiệm)" in text
        assert "- Chưa trả lời: 0 (—)" in text
    finally:
        with lab.provisioner() as conn:
            conn.delete(f"uid={org_id},{ACCOUNTS}")
        in_lab("rm", "-rf", f"/var/vmail/{DOMAIN}/{org_id}", check=False)
