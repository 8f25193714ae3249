"""Benchmark of the convergence against a real slapd (issue: performance is measured, never asserted).

    python bench/run.py --n 5000 [--loop-n 200] [--skip-loop]

Measures, for N synthetic accounts: plan (empty directory) with an empty file cache (cold) and
again (warm), first apply (create), no-op apply, a 10% modify run, a unit's pull-request check
(validate, allocate --check, plan against the directory after one unit file changed); the same
LDIF through the stock ldapadd and ldapmodify; and, for comparison, the per-account cost of a loop
of community.general.ldap_entry tasks. Prints a Markdown table, then, as its last line, one JSON
object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]

from slapd_server import ThrowawaySlapd  # noqa: E402
from synthetic import generate  # noqa: E402

from govmail.cli.main import main as govmail  # noqa: E402
from govmail.directory.layout import Layout, new_entry  # noqa: E402
from govmail.directory.run import Delivery, converge  # noqa: E402
from govmail.model.addresses import accounts as tree_accounts  # noqa: E402
from govmail.model.addresses import allocate  # noqa: E402
from govmail.model.passwords import generate as new_password  # noqa: E402
from govmail.model.rules import load_valid  # noqa: E402
from govmail.model.writer import write_allocations  # noqa: E402


def _ldap(server: ThrowawaySlapd) -> dict:
    dn, password = server.provisioner
    return {
        "server_uri": server.uri,
        "bind_dn": dn,
        "bind_pw": password,
        "base_dn": server.suffix,
        "connect_timeout": 10,
    }


def _timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _engine_timed(figures: dict, name: str, func):
    """Wall-clock seconds into ``name``; the engine process's own CPU seconds into ``<name>_cpu``
    (slapd's work is not in it): on a shared machine the CPU figure is the steadier one."""
    cpu = time.process_time()
    figures[name], result = _timed(func)
    figures[name.replace("_s", "_cpu_s")] = time.process_time() - cpu
    return result


def _ldif_value(key: str, value: str) -> str:
    if value.isascii() and not value.startswith((" ", ":", "<")):
        return f"{key}: {value}\n"
    import base64  # noqa: PLC0415

    return f"{key}:: {base64.b64encode(value.encode()).decode()}\n"


def _add_ldif(accounts, layout: Layout) -> str:
    """The same entries the engine writes (attributes and a clear password), as LDIF for ldapadd."""
    out = []
    for account in accounts:
        attrs = new_entry(account)
        attrs.update(userPassword=[new_password()], pwdReset=["TRUE"])
        block = f"dn: {layout.dn(account.address)}\n" + "".join(
            _ldif_value("objectClass", c) for c in ("top", "inetOrgPerson", "govmailAccount")
        )
        block += "".join(_ldif_value(k, str(v)) for k, values in attrs.items() for v in values)
        out.append(block)
    return "\n".join(out)


def _modify_ldif(changed, layout: Layout) -> str:
    return "\n".join(
        f"dn: {layout.dn(a.address)}\nchangetype: modify\nreplace: title\n" + _ldif_value("title", a.title) + "-\n"
        for a in changed
    )


def _tool(server: ThrowawaySlapd, tool: str, ldif: Path) -> float:
    dn, password = server.provisioner
    pw_file = server.dir / "pw"
    pw_file.write_text(password)
    cmd = [tool, "-x", "-H", server.uri, "-D", dn, "-y", str(pw_file), "-f", str(ldif)]
    seconds, result = _timed(lambda: subprocess.run(cmd, capture_output=True, text=True, check=False))
    if result.returncode != 0:
        raise RuntimeError(f"{tool} failed: {result.stderr[-500:]}")
    return seconds


def _loop_per_account(n: int, work: Path) -> float | None:
    """Seconds per account for a loop of community.general.ldap_entry (python-ldap) tasks."""
    try:
        import ldap  # noqa: F401, PLC0415 — community.general.ldap_entry needs python-ldap
    except ImportError:
        return None
    items = [
        {"dn": f"uid=loop{i},ou=accounts,dc=khanhhoa,dc=gov,dc=vn", "mail": f"loop{i}@khanhhoa.gov.vn"}
        for i in range(n)
    ]
    with ThrowawaySlapd() as server:
        dn, password = server.provisioner
        playbook = work / "loop.yml"
        task = {
            "community.general.ldap_entry": {
                "server_uri": server.uri,
                "bind_dn": dn,
                "bind_pw": "{{ pw }}",
                "dn": "{{ item.dn }}",
                "objectClass": ["inetOrgPerson", "govmailAccount"],
                "attributes": {"cn": "Loop", "sn": "Loop", "mail": "{{ item.mail }}", "govmailState": "active",
                               "govmailManaged": "TRUE"},
            },
            "loop": items,
        }  # fmt: skip
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]
        playbook.write_text(yaml.safe_dump(play), encoding="utf-8")
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
        cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
               "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"pw={password}", str(playbook)]  # fmt: skip
        seconds, result = _timed(lambda: subprocess.run(cmd, capture_output=True, text=True, env=env, check=False))
        if result.returncode != 0:
            raise RuntimeError("ldap_entry loop failed: " + result.stdout[-800:])
    return seconds / n


@contextlib.contextmanager
def _cache_off():
    saved = os.environ.get("GOVMAIL_CACHE_DIR")
    os.environ["GOVMAIL_CACHE_DIR"] = "off"
    try:
        yield
    finally:
        os.environ["GOVMAIL_CACHE_DIR"] = saved


def _pr_check(tree: Path, server: ThrowawaySlapd) -> dict:
    """A unit's pull request: one person's title changes in one file; then what CI runs on it —
    ``govmail validate``, ``govmail allocate --check``, ``govmail plan --ldap`` (Markdown)."""
    path = tree / "departments" / "syt.yaml"
    text = path.read_text(encoding="utf-8")
    line = next(
        x
        for x in text.splitlines()
        if x.startswith("  - {name:") and "title: Văn thư" not in x and "Phó Giám đốc" not in x
    )
    path.write_text(text.replace(line, re.sub(r"title: [^,}]+", "title: Văn thư", line), 1), encoding="utf-8")
    dn, password = server.provisioner
    os.environ["GOVMAIL_LDAP_BIND_PW"] = password
    checks, plan = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(checks):
        assert govmail(["validate", str(tree)]) == 0
        assert govmail(["allocate", str(tree), "--check"]) == 0
    with contextlib.redirect_stdout(plan):
        assert govmail(["plan", str(tree), "--ldap", server.uri, "--bind-dn", dn, "--format", "json"]) == 0
    del os.environ["GOVMAIL_LDAP_BIND_PW"]
    return json.loads(plan.getvalue())["summary"]["by_op"]


def _engine(tree: Path, delivery: Delivery, figures: dict) -> None:
    """The engine's runs against one slapd: plans, create, no-op, 10% modify, a pull request's check."""
    with ThrowawaySlapd() as server:
        ldap = _ldap(server)
        _engine_timed(figures, "plan_cold_s", lambda: converge(str(tree), ldap, check_mode=True))
        _engine_timed(figures, "plan_s", lambda: converge(str(tree), ldap, check_mode=True))
        report = _engine_timed(figures, "create_s", lambda: converge(str(tree), ldap, delivery=delivery))
        assert report["failed"] == 0, [c for c in report["changes"] if c["result"] == "failed"][:3]
        report = _engine_timed(figures, "noop_s", lambda: converge(str(tree), ldap, delivery=delivery))
        assert report["changes"] == [], report["summary"]
        # Every tenth person gets a new title: a 10% modify run.
        changed = 0
        for path in sorted(p for p in tree.rglob("*.yaml") if p.name != "province.yaml"):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            for i, line in enumerate(lines):
                if line.startswith("  - {name:") and "title: Phó Giám đốc" not in line:
                    changed += 1
                    if changed % 10 == 0:
                        lines[i] = re.sub(r"title: [^,}]+", "title: Phó Giám đốc", line)
            path.write_text("".join(lines), encoding="utf-8")
        changed //= 10
        figures["modified"] = changed
        report = _engine_timed(figures, "modify_s", lambda: converge(str(tree), ldap, delivery=delivery))
        assert report["summary"]["by_op"] == {"update": changed}, report["summary"]
        report = _engine_timed(figures, "pr_check_s", lambda: _pr_check(tree, server))
        assert report == {"update": 1}, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--loop-n", type=int, default=200)
    parser.add_argument("--skip-loop", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="govmail-bench-") as tmp:
        work = Path(tmp)
        os.environ["GOVMAIL_CACHE_DIR"] = str(work / "cache")  # starts empty: the first plan is cold
        tree = generate(work, args.n, REPO / "data" / "khanhhoa-communes-2025.yaml")
        with _cache_off():
            allocate_s, _ = _timed(lambda: write_allocations(allocate(load_valid(tree))))
            desired = tree_accounts(load_valid(tree), [])
        key = work / "operator.agekey"
        subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
        public = re.search(r"public key: (\S+)", key.read_text())[1]
        delivery = Delivery(age_recipients=[public], age_dir=str(work / "out"))
        figures = {"n": args.n, "accounts": len(desired), "allocate_s": allocate_s}

        _engine(tree, delivery, figures)

        layout = Layout("dc=khanhhoa,dc=gov,dc=vn")
        (work / "add.ldif").write_text(_add_ldif(desired, layout), encoding="utf-8")
        changed_accounts = [a for a in tree_accounts(load_valid(tree), []) if a.title == "Phó Giám đốc"]
        (work / "modify.ldif").write_text(_modify_ldif(changed_accounts, layout), encoding="utf-8")
        with ThrowawaySlapd() as server:
            figures["ldapadd_create_s"] = _tool(server, "ldapadd", work / "add.ldif")
            figures["ldapmodify_s"] = _tool(server, "ldapmodify", work / "modify.ldif")

        loop = None if args.skip_loop else _loop_per_account(args.loop_n, work)
        figures["loop_n"] = args.loop_n if loop is not None else 0
        figures["loop_per_account_s"] = loop
        figures["govmail_per_account_s"] = figures["create_s"] / len(desired)
        figures["loop_speedup"] = (loop / figures["govmail_per_account_s"]) if loop else None
        figures["create_vs_ldapadd"] = figures["create_s"] / figures["ldapadd_create_s"]
        figures["machine"] = f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}"

    rows = [(k, f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in figures.items()]
    print("| measure | value |\n|---|---:|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows))
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
