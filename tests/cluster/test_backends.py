"""Several mail backends behind the front (issue 14 §3, §4; docs/cluster.md).

- the account convergence gave every mailbox of accounts/ a backend, evenly;
- one backend stopped: mail for its users waits in the front's queue and is delivered when it returns,
  every message whole (count and SHA-256 of each body); the other backend's users are unaffected;
- a mailbox moved between backends while mail keeps arriving: nothing lost or doubled, and logins
  land on the new backend."""

from __future__ import annotations

import hashlib
import json
import secrets
import smtplib
import subprocess
import threading
import time
from collections import Counter
from email.message import EmailMessage

import ldap3

from .conftest import (
    ACCOUNTS,
    BACKENDS,
    HELO,
    LDAP1,
    MX,
    PORTS,
    PROVIDERS,
    ROOT,
    Cluster,
    count_on,
    docker,
    on,
    wait_for,
)

(MAIL1, HOST1), (MAIL2, HOST2) = BACKENDS.items()
N = 12  # messages per user and case: enough to see a loss, few enough for a 2-core machine


def _booted(node: str) -> bool:
    out = on(node, "systemctl", "is-system-running", check=False).stdout.strip()
    return out in ("running", "degraded")


def _message(address: str, n: int) -> tuple[EmailMessage, str]:
    """A message with a random body, and the SHA-256 of that body as IMAP will return it."""
    body = "\r\n".join(secrets.token_hex(32) for _ in range(20)) + "\r\n"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "someone@example.org", address, f"backend {n}"
    message.set_content(body.replace("\r\n", "\n"), cte="7bit")
    return message, hashlib.sha256(body.encode()).hexdigest()


def _send(cluster: Cluster, address: str, count: int, pause: float = 0.0) -> list[str]:
    digests = []
    with cluster.mx() as smtp:
        for n in range(count):
            message, digest = _message(address, n)
            smtp.send_message(message)
            digests.append(digest)
            time.sleep(pause)
    return digests


def _bodies(cluster: Cluster, address: str, password: str) -> list[str]:
    """SHA-256 of every INBOX message's body, read through the front's IMAP proxy."""
    imap = cluster.imap(address, password)
    try:
        imap.select("INBOX", readonly=True)
        _, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[TEXT])")
    finally:
        imap.logout()
    return [hashlib.sha256(part[1]).hexdigest() for part in data if isinstance(part, tuple)]


def _queued_for(address: str) -> int:
    out = on(MX, "postqueue", "-j").stdout
    return sum(
        1
        for line in out.splitlines()
        if line.strip() and any(r.get("address") == address for r in json.loads(line).get("recipients", []))
    )


def test_the_convergence_spread_the_mailboxes_over_the_backends(cluster: Cluster):
    """Every live account of accounts/ (applied by make lab-cluster) has one of the two backends, and
    the least-loaded rule left them within one mailbox of each other."""
    with cluster.provisioner(LDAP1) as conn:
        entries = conn.extend.standard.paged_search(
            ACCOUNTS, "(&(govmailManaged=TRUE)(|(govmailState=active)(govmailState=suspended))(!(govmailUnit=lab/test)))",
            ldap3.LEVEL, attributes=["mail", "govmailMailHost", "govmailOrg"], paged_size=500, generator=False,
        )  # fmt: skip
        one = lambda values: str((values or [""])[0] if isinstance(values, list) else values)  # noqa: E731
        hosts = [
            one(e["attributes"].get("govmailMailHost"))
            for e in entries
            if not one(e["attributes"].get("govmailOrg")).startswith("cl")  # test_directory's own unit
        ]
    counts = Counter(hosts)
    assert set(counts) == {HOST1, HOST2}, counts  # nobody without a backend, no other value
    assert abs(counts[HOST1] - counts[HOST2]) <= 1, counts
    assert sum(counts.values()) > 20  # the province's sample tree (34 mailboxes), not an empty directory


def test_one_backend_down_its_mail_waits_at_the_front_then_arrives_whole(cluster: Cluster, mailbox):
    down, down_password = mailbox(HOST1)
    up, up_password = mailbox(HOST2)
    docker("stop", MAIL1)
    try:
        sent_down = _send(cluster, down, N)
        sent_up = _send(cluster, up, N)
        # The other backend's user is unaffected: mail arrives, logins work, through the same front.
        wait_for(f"{N} messages on {HOST2}", lambda: count_on(MAIL2, up) == N)
        assert Counter(_bodies(cluster, up, up_password)) == Counter(sent_up)
        # The stopped backend's mail waits in the front's queue, all of it.
        wait_for(f"{N} messages for {down} queued at the front", lambda: _queued_for(down) == N)
        assert not cluster.imap_login(down, down_password)  # its backend is away: no session
    finally:
        docker("start", MAIL1)
    wait_for(f"{MAIL1} booted", lambda: _booted(MAIL1))
    wait_for(f"the queued mail delivered to {HOST1}", lambda: count_on(MAIL1, down) == N and not _queued_for(down))
    assert Counter(_bodies(cluster, down, down_password)) == Counter(sent_down)
    assert count_on(MAIL2, down) == 0  # delivered where it lives, nowhere else


def test_move_a_mailbox_while_mail_arrives(cluster: Cluster, mailbox):
    address, password = mailbox(HOST1)
    before = _send(cluster, address, 4)
    wait_for(f"the first messages on {HOST1}", lambda: count_on(MAIL1, address) == 4)
    during: list[str] = []
    sender = threading.Thread(target=lambda: during.extend(_send(cluster, address, N, pause=0.5)))
    sender.start()
    try:
        time.sleep(1.0)
        move = subprocess.run(
            [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventory/cluster", "playbooks/move.yml",
             "-e", f"address={address}", "-e", f"backend={HOST2}"],
            cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    finally:
        sender.join(timeout=120)
    assert move.returncode == 0, move.stdout[-4000:] + move.stderr[-2000:]
    sent = before + during
    assert len(sent) == 4 + N
    # Both providers route the mailbox to the new backend.
    for node in PROVIDERS:
        with cluster.provisioner(node) as conn:
            conn.search(f"uid={address.split('@')[0]},{ACCOUNTS}", "(objectClass=*)", ldap3.BASE,
                        attributes=["govmailMailHost"])  # fmt: skip
            assert str(conn.entries[0].govmailMailHost) == HOST2
    # Every message, once, on the new backend; the old copy is out of the way.
    wait_for(f"all {len(sent)} messages on {HOST2} (move: {move.stdout[-3000:]})",
             lambda: count_on(MAIL2, address) == len(sent))  # fmt: skip
    assert Counter(_bodies(cluster, address, password)) == Counter(sent)
    assert count_on(MAIL1, address) == 0
    # A login lands on the new backend: its session is there, not on the old one.
    imap = cluster.imap(address, password)
    try:
        imap.select("INBOX")
        assert address in on(MAIL2, "doveadm", "who", "-1", address, check=False).stdout
        assert address not in on(MAIL1, "doveadm", "who", "-1", address, check=False).stdout
    finally:
        imap.logout()
    # Running the move again changes nothing.
    again = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventory/cluster", "playbooks/move.yml",
         "-e", f"address={address}", "-e", f"backend={HOST2}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert again.returncode == 0 and "changed=0" in again.stdout.split("PLAY RECAP")[-1], again.stdout[-3000:]


def test_submission_logs_in_at_the_front_and_routes_to_the_other_backend(cluster: Cluster, mailbox):
    """A user of one backend sends through the front's submission (SASL checked by the front's Dovecot)
    to a user of the other backend; it arrives there whole."""
    sender, sender_password = mailbox(HOST2)
    rcpt, rcpt_password = mailbox(HOST1)
    message, digest = _message(rcpt, 0)
    message.replace_header("From", sender)
    with smtplib.SMTP("127.0.0.1", PORTS[587], local_hostname=HELO, timeout=30) as smtp:
        smtp.starttls(context=cluster.ssl_context)
        smtp.login(sender, sender_password)
        smtp.send_message(message)
    wait_for(f"the message on {HOST1}", lambda: count_on(MAIL1, rcpt) == 1)
    assert _bodies(cluster, rcpt, rcpt_password) == [digest]
