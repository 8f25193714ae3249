"""Which LDAP client for the bulk path (issue 9, part 2): the same work through three clients.

    python bench/clients.py --n 50000 [--clients python-ldap,ldap3,ldapwire]

For each client, against its own fresh throwaway slapd (the role's schema, ACLs, password policy,
``{SSHA}`` hashing), as the provisioner over TCP on 127.0.0.1:

- ``create``: N entries with the attributes the engine writes, 256 requests in flight;
- ``modify``: a new title on each of the N entries, 256 in flight;
- ``read``: the paged read (1,000 a page) of every managed entry with the attributes the engine reads.

Clients: python-ldap (libldap; ``add_ext``/``modify_ext`` return a message id at once, ``result3``
collects), ldap3 with its ASYNC strategy (``add``/``modify`` return a message id, ``get_response``
collects), and the hand-written codec the engine used before (``bench/ldapwire.py``, the baseline).
Prints a Markdown table, then one JSON object as the last line. Wall-clock seconds; ``*_cpu_s``
is the client's own CPU time (the rest is slapd, which runs on the other core).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]

from slapd_server import ThrowawaySlapd  # noqa: E402
from synthetic import TITLES, _name  # noqa: E402

WINDOW = 256
PAGE = 1000
CLASSES = ["top", "inetOrgPerson", "govmailAccount"]
READ = ["uid", "mail", "cn", "title", "govmailState", "govmailUnit", "govmailOrg", "govmailKind",
        "govmailReason", "govmailStateSince", "govmailResetToken", "govmailAlias"]  # fmt: skip
FILTER = "(&(objectClass=govmailAccount)(govmailManaged=TRUE))"


def entries(n: int, suffix: str) -> list[tuple[str, dict[str, list[str]]]]:
    rng = random.Random(2026)
    out = []
    for i in range(n):
        name = _name(rng)
        uid = f"u{i:06d}"
        out.append(
            (
                f"uid={uid},ou=accounts,{suffix}",
                {
                    "objectClass": CLASSES,
                    "cn": [name],
                    "sn": [name.split()[0]],
                    "displayName": [name],
                    "title": [rng.choice(TITLES)],
                    "govmailKind": ["person"],
                    "govmailOrg": ["syt"],
                    "govmailUnit": ["vp"],
                    "govmailState": ["active"],
                    "uid": [uid],
                    "mail": [f"{uid}@khanhhoa.gov.vn"],
                    "govmailManaged": ["TRUE"],
                    "userPassword": [f"Bench-{i}-{rng.random()}"],
                    "pwdReset": ["TRUE"],
                    "govmailResetToken": ["!undelivered"],
                },
            )
        )
    return out


# --- python-ldap ---------------------------------------------------------------------------


class PythonLdap:
    name = "python-ldap"

    def __init__(self, server: ThrowawaySlapd):
        import ldap  # noqa: PLC0415

        self.ldap = ldap
        self.conn = ldap.initialize(server.uri, bytes_mode=False)
        self.conn.protocol_version = 3
        self.conn.simple_bind_s(*server.provisioner)

    def _pipeline(self, send: Callable[[object], int], items) -> int:
        ldap, failed, pending = self.ldap, 0, 0
        for item in items:
            send(item)
            pending += 1
            if pending >= WINDOW:
                try:
                    self.conn.result3(ldap.RES_ANY, all=1)
                except ldap.LDAPError:
                    failed += 1
                pending -= 1
        while pending:
            try:
                self.conn.result3(ldap.RES_ANY, all=1)
            except ldap.LDAPError:
                failed += 1
            pending -= 1
        return failed

    def create(self, items) -> int:
        return self._pipeline(
            lambda e: self.conn.add_ext(e[0], [(k, [v.encode() for v in vs]) for k, vs in e[1].items()]), items
        )

    def modify(self, items) -> int:
        rep = self.ldap.MOD_REPLACE
        return self._pipeline(lambda e: self.conn.modify_ext(e[0], [(rep, "title", [e[1].encode()])]), items)

    def read(self, base: str) -> int:
        from ldap.controls import SimplePagedResultsControl  # noqa: PLC0415

        control = SimplePagedResultsControl(True, size=PAGE, cookie="")
        count = 0
        while True:
            msgid = self.conn.search_ext(base, self.ldap.SCOPE_SUBTREE, FILTER, READ, serverctrls=[control])
            _, data, _, controls = self.conn.result3(msgid)
            for _dn, attrs in data:
                decoded = {k: [v.decode() for v in vs] for k, vs in attrs.items()}
                count += bool(decoded.get("mail"))
            cookie = next((c.cookie for c in controls if c.controlType == SimplePagedResultsControl.controlType), b"")
            if not cookie:
                return count
            control.cookie = cookie

    def close(self) -> None:
        self.conn.unbind_s()


# --- ldap3, ASYNC strategy -------------------------------------------------------------------


class Ldap3Async:
    name = "ldap3"

    def __init__(self, server: ThrowawaySlapd):
        import ldap3  # noqa: PLC0415

        self.ldap3 = ldap3
        srv = ldap3.Server(server.uri, get_info=ldap3.NONE)
        self.conn = ldap3.Connection(
            srv, user=server.provisioner[0], password=server.provisioner[1], client_strategy=ldap3.ASYNC
        )
        self.conn.open()
        self.conn.bind()

    def _pipeline(self, send: Callable[[object], int], items) -> int:
        failed, in_flight = 0, []
        for item in items:
            in_flight.append(send(item))
            if len(in_flight) >= WINDOW:
                _, result = self.conn.get_response(in_flight.pop(0))
                failed += result["result"] != 0
        for msgid in in_flight:
            _, result = self.conn.get_response(msgid)
            failed += result["result"] != 0
        return failed

    def create(self, items) -> int:
        return self._pipeline(lambda e: self.conn.add(e[0], attributes=e[1]), items)

    def modify(self, items) -> int:
        rep = self.ldap3.MODIFY_REPLACE
        return self._pipeline(lambda e: self.conn.modify(e[0], {"title": [(rep, [e[1]])]}), items)

    def read(self, base: str) -> int:
        count, cookie = 0, None
        while True:
            msgid = self.conn.search(
                base, FILTER, search_scope=self.ldap3.SUBTREE, attributes=READ, paged_size=PAGE, paged_cookie=cookie
            )
            response, result = self.conn.get_response(msgid)
            count += sum(1 for r in response if r.get("type") == "searchResEntry" and r["attributes"].get("mail"))
            cookie = result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
            if not cookie:
                return count

    def close(self) -> None:
        self.conn.unbind()


# --- the hand-written codec ------------------------------------------------------------------


class Wire:
    name = "ldapwire"

    def __init__(self, server: ThrowawaySlapd):
        import ldapwire  # noqa: PLC0415 — bench/ldapwire.py

        self.w = ldapwire
        self.pipe = ldapwire.Pipeline.open(server.uri, *server.provisioner)

    def create(self, items) -> int:
        ops = ((dn, self.w.add_request(dn, attrs)) for dn, attrs in items)
        return sum(not r.ok for _, r in self.pipe.run(ops, window=WINDOW))

    def modify(self, items) -> int:
        ops = ((dn, self.w.modify_request(dn, {"title": (self.w.REPLACE, [t])})) for dn, t in items)
        return sum(not r.ok for _, r in self.pipe.run(ops, window=WINDOW))

    def read(self, base: str) -> int:
        return sum(bool(attrs.get("mail")) for _, attrs in self.pipe.search(base, FILTER, READ, PAGE))

    def close(self) -> None:
        self.pipe.close()


CLIENTS = {c.name: c for c in (PythonLdap, Ldap3Async, Wire)}


def _timed(func):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def measure(client_class, n: int) -> dict:
    with ThrowawaySlapd() as server:
        items = entries(n, server.suffix)
        rng = random.Random(7)
        titles = [(dn, rng.choice(TITLES) + " mới") for dn, _ in items]
        client = client_class(server)
        try:
            figures = {}
            for step, func in (
                ("create", lambda: client.create(items)),
                ("modify", lambda: client.modify(titles)),
                ("read", lambda: client.read(server.suffix)),
            ):
                wall, cpu, result = _timed(func)
                figures[f"{step}_s"], figures[f"{step}_cpu_s"] = round(wall, 3), round(cpu, 3)
                if step == "read" and result != n:
                    raise RuntimeError(f"{client.name}: read {result} entries, expected {n}")
                if step != "read" and result:
                    raise RuntimeError(f"{client.name}: {result} {step} requests refused")
        finally:
            client.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--clients", default="python-ldap,ldap3,ldapwire")
    args = parser.parse_args()
    results = {}
    for name in args.clients.split(","):
        results[name] = measure(CLIENTS[name], args.n)
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    steps = ("create_s", "modify_s", "read_s", "create_cpu_s", "modify_cpu_s", "read_cpu_s")
    print("| client | " + " | ".join(steps) + " |\n|---|" + "---:|" * len(steps))
    for name, fig in results.items():
        print(f"| {name} | " + " | ".join(str(fig.get(s, "—")) for s in steps) + " |")
    print(json.dumps({"n": args.n, **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
