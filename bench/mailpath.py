"""The mail path of the cluster lab, measured (issue 14 §5; docs/performance.md "The mail path").

    make lab-cluster && .venv/bin/python bench/mailpath.py [--messages 200] [--logins 200]

Against the running cluster lab (inventory/cluster), bounded in count and time:

1. delivery throughput through the front: Postfix's ``smtp-source`` (run on the front, to its port 25,
   so the host's port forwarding is not measured) sends ``--messages`` messages (4 sessions); accepted/s
   is ``--messages`` over smtp-source's wall time, delivered/s the same count over the time until the
   backends hold them all (LMTP from the front, by govmailMailHost);
2. IMAP logins per second through the front's proxy (LOGIN + SELECT + LOGOUT over STARTTLS,
   4 concurrent clients);
each with the bench's mailboxes all on one backend, then spread over the two — the ratio in one run;
3. LDAP operations (binds + searches, summed over both providers' cn=monitor) per delivery and per
   login: without and with Dovecot's auth cache at the front, and with Postfix's LDAP tables through
   ``proxymap`` (connection sharing; Postfix has no LDAP result cache). The session guards, which poll
   the directory, are stopped meanwhile; every setting changed is put back at the end.

Prints a Markdown table, then one JSON line. Figures only: nothing is asserted."""

from __future__ import annotations

import argparse
import concurrent.futures
import imaplib
import json
import re
import secrets
import ssl
import string
import subprocess
import sys
import time
from pathlib import Path

import ldap3

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "lab-cluster"
DOMAIN = "khanhhoa.gov.vn"
ACCOUNTS = "ou=accounts,dc=khanhhoa,dc=gov,dc=vn"
PROVISIONER = "cn=provisioner,ou=services,dc=khanhhoa,dc=gov,dc=vn"
PROVIDERS = {"govmail-cl-ldap1": 10401, "govmail-cl-ldap2": 10402}
BACKENDS = {"govmail-cl-mail1": "mail1.khanhhoa.gov.vn", "govmail-cl-mail2": "mail2.khanhhoa.gov.vn"}
FRONT, IMAP_PORT = "govmail-cl-mx", 10444
USERS = 8  # bench mailboxes: half on each backend in the two-backend phase
TIMEOUT = 600  # seconds any one wait may take


def sh(node: str, *cmd: str, check: bool = True) -> str:
    out = subprocess.run(["docker", "exec", node, *cmd], capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if check and out.returncode:
        raise RuntimeError(f"{node}: {' '.join(cmd)}: {out.stderr.strip()}")
    return out.stdout


def password() -> str:
    classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, "!@#%*"]
    chars = [secrets.choice(c) for c in classes] + [secrets.choice("".join(classes)) for _ in range(12)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def ldap(user: str, secret: str) -> ldap3.Connection:
    tls = ldap3.Tls(ca_certs_file=str(VAR / "tls" / "ca.pem"), validate=ssl.CERT_REQUIRED)
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=PROVIDERS["govmail-cl-ldap1"], tls=tls), user=user,
                            password=secret, raise_exceptions=True)  # fmt: skip
    conn.open()
    conn.start_tls()
    conn.bind()
    return conn


def ldap_ops() -> int:
    """Binds + searches completed, summed over the providers (cn=monitor, read as root over ldapi)."""
    total = 0
    for node in PROVIDERS:
        out = sh(node, "ldapsearch", "-LLL", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///", "-b",
                 "cn=Operations,cn=Monitor", "(|(cn=Bind)(cn=Search))", "monitorOpCompleted")  # fmt: skip
        total += sum(int(v) for v in re.findall(r"^monitorOpCompleted: (\d+)$", out, re.MULTILINE))
    return total


def place(conn: ldap3.Connection, users: list[tuple[str, str, str]], spread: bool) -> None:
    """All the bench mailboxes on mail1, or alternately on mail1 and mail2."""
    hosts = list(BACKENDS.values())
    for i, (dn, _, _) in enumerate(users):
        conn.modify(dn, {"govmailMailHost": [(ldap3.MODIFY_REPLACE, [hosts[i % 2] if spread else hosts[0]])]})
    time.sleep(1)  # replication to ldap2 (the backends' second provider)


def inbox(address: str) -> int:
    total = 0
    for node in BACKENDS:
        out = sh(node, "doveadm", "-f", "tab", "mailbox", "status", "-u", address, "messages", "INBOX", check=False)
        total += sum(int(n) for n in re.findall(r"^INBOX\t(\d+)$", out, re.MULTILINE))
    return total


def deliveries(users, count: int) -> dict:
    """smtp-source on the front: ``count`` messages spread over the bench mailboxes (one run per mailbox,
    concurrently); accepted/s and delivered/s."""
    before = {a: inbox(a) for _, a, _ in users}
    per = max(1, count // len(users))
    ops0, t0 = ldap_ops(), time.monotonic()
    runs = [
        subprocess.Popen(
            [
                "docker",
                "exec",
                FRONT,
                "smtp-source",
                "-s",
                "1",
                "-m",
                str(per),
                "-l",
                "2048",
                "-c",
                "-f",
                "bench@example.org",
                "-t",
                address,
                "127.0.0.1:25",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _, address, _ in users
    ]
    for run in runs:
        run.wait(timeout=TIMEOUT)
    accepted = time.monotonic() - t0
    deadline = time.monotonic() + TIMEOUT
    while any(inbox(a) < before[a] + per for _, a, _ in users):
        if time.monotonic() > deadline:
            raise RuntimeError("deliveries did not all arrive in time")
        time.sleep(0.5)
    delivered = time.monotonic() - t0
    sent = per * len(users)
    return {"messages": sent, "accepted_per_s": sent / accepted, "delivered_per_s": sent / delivered,
            "ldap_ops_per_delivery": (ldap_ops() - ops0) / sent}  # fmt: skip


def one_login(address: str, secret: str, context: ssl.SSLContext) -> None:
    imap = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=60)
    imap.starttls(ssl_context=context)
    imap.login(address, secret)
    imap.select("INBOX", readonly=True)
    imap.logout()


def logins(users, count: int, workers: int = 4) -> dict:
    context = ssl.create_default_context(cafile=str(VAR / "tls" / "ca.pem"))
    jobs = [users[i % len(users)] for i in range(count)]
    ops0, t0 = ldap_ops(), time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda u: one_login(u[1], u[2], context), jobs))
    took = time.monotonic() - t0
    return {"logins": count, "logins_per_s": count / took, "ldap_ops_per_login": (ldap_ops() - ops0) / count}


def front_setting(kind: str, on: bool) -> None:
    """Dovecot's auth cache, or Postfix's proxymap, at the front (put back by calling with on=False)."""
    if kind == "auth_cache":
        size = "10M" if on else "0"
        sh(FRONT, "sed", "-i", f"s/^auth_cache_size = .*/auth_cache_size = {size}/", "/etc/dovecot/dovecot.conf")
        sh(FRONT, "doveadm", "reload")
        time.sleep(1)
    else:
        maps = "virtual_mailbox_maps virtual_alias_maps smtpd_sender_login_maps transport_maps"
        for name in maps.split():
            value = sh(FRONT, "postconf", "-h", name).strip()
            value = value.replace("proxy:ldap:", "ldap:")
            if on:
                value = value.replace("ldap:", "proxy:ldap:")
            sh(FRONT, "postconf", "-e", f"{name}={value}")
        sh(FRONT, "postfix", "reload")
        time.sleep(2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200, help="messages per delivery measurement (bounded: 2000)")
    parser.add_argument("--logins", type=int, default=200, help="logins per login measurement (bounded: 2000)")
    args = parser.parse_args()
    args.messages, args.logins = min(args.messages, 2000), min(args.logins, 2000)
    secret = (VAR / "secrets" / "provisioner").read_text().strip()
    conn = ldap(PROVISIONER, secret)
    users = []
    figures: dict = {}
    try:
        for _ in range(USERS):
            uid = f"bench{secrets.token_hex(3)}"
            dn, address, pw = f"uid={uid},{ACCOUNTS}", f"{uid}@{DOMAIN}", password()
            conn.add(dn, attributes={"objectClass": ["inetOrgPerson", "govmailAccount"], "uid": uid, "cn": "Bench",
                                     "sn": "Bench", "mail": address, "govmailState": "active", "govmailManaged": "TRUE",
                                     "govmailKind": "person", "govmailUnit": "lab/bench", "userPassword": pw,
                                     "govmailMailHost": BACKENDS["govmail-cl-mail1"]})  # fmt: skip
            users.append((dn, address, pw))
        for node in BACKENDS:
            sh(node, "systemctl", "stop", "govmail-session-guard", check=False)
        for backends, spread in ((1, False), (2, True)):
            place(conn, users, spread)
            deliveries(users[:2], 16)  # warm-up: connections, rspamd, clamd
            figures[f"delivery_{backends}"] = deliveries(users, args.messages)
            figures[f"login_{backends}"] = logins(users, args.logins)
        figures["login_cache"] = (front_setting("auth_cache", True), logins(users, args.logins))[1]
        front_setting("auth_cache", False)
        figures["delivery_proxymap"] = (front_setting("proxymap", True), deliveries(users, args.messages))[1]
        front_setting("proxymap", False)
    finally:
        front_setting("auth_cache", False)
        front_setting("proxymap", False)
        for node in BACKENDS:
            sh(node, "systemctl", "start", "govmail-session-guard", check=False)
            for _, address, _ in users:
                sh(node, "rm", "-rf", f"/var/vmail/{DOMAIN}/{address.split('@')[0]}", check=False)
        for dn, _, _ in users:
            conn.delete(dn)
    ratio = {
        "delivered_per_s": figures["delivery_2"]["delivered_per_s"] / figures["delivery_1"]["delivered_per_s"],
        "logins_per_s": figures["login_2"]["logins_per_s"] / figures["login_1"]["logins_per_s"],
    }
    rows = [
        ("delivery, 1 backend", figures["delivery_1"]), ("delivery, 2 backends", figures["delivery_2"]),
        ("delivery, 2 backends, Postfix proxymap", figures["delivery_proxymap"]),
        ("IMAP login, 1 backend", figures["login_1"]), ("IMAP login, 2 backends", figures["login_2"]),
        ("IMAP login, 2 backends, auth cache at the front", figures["login_cache"]),
    ]  # fmt: skip
    print("| case | count | accepted/s | delivered/s | logins/s | LDAP ops each |\n|---|---:|---:|---:|---:|---:|")
    for name, f in rows:
        each = f.get("ldap_ops_per_delivery", f.get("ldap_ops_per_login"))
        print(f"| {name} | {f.get('messages', f.get('logins'))} | {f.get('accepted_per_s', 0):.1f} | "
              f"{f.get('delivered_per_s', 0):.1f} | {f.get('logins_per_s', 0):.1f} | {each:.2f} |")  # fmt: skip
    print(f"\nratio 2 backends / 1: delivered/s {ratio['delivered_per_s']:.2f}, logins/s {ratio['logins_per_s']:.2f}")
    print(json.dumps({"figures": figures, "ratio_2_over_1": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
