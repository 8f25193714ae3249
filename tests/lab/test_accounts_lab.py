"""The account files converged into the real lab (playbooks/accounts.yml via bin/lab-accounts), end to end.

create → initial password delivered (age + mail) → refused until changed (R6.1) → works;
suspend → still receives, cannot log in (R8.1); restore (R8.3); reset (R7.2);
revoke → archive present and verified, address refused at RCPT time (R8.2d).
"""

from __future__ import annotations

import datetime as dt
import imaplib
import re
import secrets
import shutil
import smtplib
import subprocess
from pathlib import Path

import pytest

from .conftest import ACCOUNTS, REVOKED, ROOT, VAR, Lab, in_lab, send_mx, strong_password

TODAY = dt.date.today().isoformat()


class Tree:
    """A copy of accounts/ plus one test unit with two people whose addresses are unique to this run."""

    def __init__(self, root: Path):
        shutil.copytree(ROOT / "accounts", root / "accounts")
        shutil.copytree(ROOT / "data", root / "data")
        self.org = f"lab{secrets.token_hex(3)}"
        self.p = f"p.{self.org}@khanhhoa.gov.vn"
        self.q = f"q.{self.org}@khanhhoa.gov.vn"
        self.file = root / "accounts" / f"{self.org}.yaml"
        self.root = root / "accounts"
        self.people = {
            self.p: {"name": "Người Thử Một", "title": "Chuyên viên"},
            self.q: {"name": "Người Thử Hai", "title": "Văn thư"},
        }
        self.write()

    def write(self) -> None:
        text = f"org: {{id: {self.org}, name: Đơn vị thử nghiệm, kind: other_body, owners: [lab], mailbox: false}}\npeople:\n"
        for address, person in self.people.items():
            text += "".join(f"  {'-' if i == 0 else ' '} {k}: {v}\n" for i, (k, v) in enumerate(person.items()))
            text += f"    address: {address}\n"
        self.file.write_text(text, encoding="utf-8")

    def converge(self) -> str:
        result = subprocess.run(
            [str(ROOT / "bin/lab-accounts"), str(self.root)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        return result.stdout


def _newest_password(address: str) -> str:
    files = sorted((VAR / "reports").glob("initial-passwords-*.txt.age"), key=lambda p: p.stat().st_mtime)
    clear = subprocess.run(
        ["age", "--decrypt", "-i", str(VAR / "operator.agekey"), str(files[-1])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.search(re.escape(address) + r"\n.*\n\s+Mật khẩu khởi tạo / initial password: (\S+)", clear)[1]


def _imap_ok(lab: Lab, address: str, password: str) -> bool:
    imap = lab.imap()
    try:
        imap.login(address, password)
    except imaplib.IMAP4.error:
        return False
    finally:
        imap.shutdown()
    return True


def _smtp_auth_ok(lab: Lab, address: str, password: str) -> bool:
    smtp = lab.submission()
    try:
        smtp.login(address, password)
    except smtplib.SMTPAuthenticationError:
        return False
    finally:
        smtp.close()
    return True


def _first_login(lab: Lab, address: str, initial: str) -> str:
    """What a person does with an initial password: change it (password modify, as themselves)."""
    dn = f"uid={address.split('@', maxsplit=1)[0]},{ACCOUNTS}"
    conn = lab.ldap(dn, initial)
    assert conn.bound, conn.result
    new = strong_password()
    conn.extend.standard.modify_password(dn, initial, new)
    assert conn.result["result"] == 0, conn.result
    conn.unbind()
    return new


def _in_mailbox(address: str, subject: str, wait: float = 30) -> bool:
    import time

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        out = in_lab("doveadm", "search", "-u", address, "mailbox", "INBOX", "header", "Subject", subject, check=False)
        if out.returncode == 0 and out.stdout.strip():
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
def tree(tmp_path, lab):
    tree = Tree(tmp_path)
    yield tree
    with lab.provisioner() as conn:
        for address in tree.people:
            uid = address.split("@")[0]
            for base in (ACCOUNTS, REVOKED):
                conn.delete(f"uid={uid},{base}")
            in_lab("rm", "-rf", f"/var/vmail/khanhhoa.gov.vn/{uid}", check=False)


def test_the_whole_life_of_an_account_in_the_lab(lab, tree):
    # create: delivered to the operator (age) and by mail to the support mailbox; refused until changed
    out = tree.converge()
    assert "initial passwords for" in out and "mailed to hotrothudientu@khanhhoa.gov.vn" in out and "FAILED" not in out
    assert _in_mailbox("hotrothudientu@khanhhoa.gov.vn", "initial passwords")
    initial = _newest_password(tree.p)
    assert not _imap_ok(lab, tree.p, initial)  # R6.1: pwdReset, must change first
    password = _first_login(lab, tree.p, initial)
    assert _imap_ok(lab, tree.p, password)

    # suspend: cannot log in or send, still receives (R8.1)
    tree.people[tree.p].update(status="suspended", reason="compromised lab test", since=TODAY)
    tree.write()
    tree.converge()
    assert not _imap_ok(lab, tree.p, password)
    assert not _smtp_auth_ok(lab, tree.p, password)
    send_mx(lab, tree.p, "while suspended", "still delivered")
    assert _in_mailbox(tree.p, "while suspended")

    # restore (R8.3)
    for key in ("status", "reason", "since"):
        del tree.people[tree.p][key]
    tree.write()
    tree.converge()
    assert _imap_ok(lab, tree.p, password)

    # reset (R7.2): the old password stops working; the new initial one must be changed first
    tree.people[tree.p]["reset"] = f"'{TODAY}-lab'"
    tree.write()
    tree.converge()
    assert not _imap_ok(lab, tree.p, password)
    fresh = _newest_password(tree.p)
    assert fresh != initial and not _imap_ok(lab, tree.p, fresh)
    assert _imap_ok(lab, tree.p, _first_login(lab, tree.p, fresh))

    # revoke (R8.2d): archived and verified first, then the address is refused
    send_mx(lab, tree.q, "before revocation", "keep me")
    assert _in_mailbox(tree.q, "before revocation")
    tree.people[tree.q].update(status="revoked", reason="resigned", since=TODAY)
    tree.write()
    tree.converge()
    archive = in_lab("sh", "-c", f"ls /var/mail-archive/*/*-{tree.q}.tar.gz").stdout.strip()
    assert in_lab("sh", "-c", f"cd $(dirname {archive}) && sha256sum -c $(basename {archive}).sha256").returncode == 0
    assert (
        "Subject: before revocation"
        in in_lab("sh", "-c", f"tar -xzOf {archive} --wildcards '*/cur/*' '*/new/*'", check=False).stdout
    )
    with lab.mx() as smtp, pytest.raises(smtplib.SMTPRecipientsRefused):
        smtp.sendmail("sender@example.org", [tree.q], b"Subject: after\r\n\r\nbounced\r\n")

    # and nothing is left to do: every host reports no change
    recap = tree.converge().split("PLAY RECAP")[-1]
    assert re.findall(r"changed=(\d+)", recap) and set(re.findall(r"changed=(\d+)", recap)) == {"0"}, recap
