"""The ``govmail`` command: validate, allocate, list and plan the account files."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from . import __version__, cli_lifecycle, cli_workflow, importer, render
from .addresses import accounts, allocate
from .continuity import check_against
from .ldap_client import LdapError, connect
from .plan import plan
from .problems import InvalidTree
from .rules import load_valid
from .run import read_directory
from .schemas import SCHEMAS
from .tree import load as load_tree
from .writer import write_allocations

DEFAULT_DIR = cli_workflow.DEFAULT_DIR


def _load(args):
    return load_valid(args.dir)


def cmd_validate(args) -> int:
    tree = _load(args)
    if args.base:
        problems = check_against(tree, args.base)
        if problems:
            raise InvalidTree(problems)
    count = sum(len(o.people) for o in tree.orgs)
    print(f"{args.dir}: {len(tree.orgs)} unit file(s), {count} people: valid")
    return 0


def cmd_allocate(args) -> int:
    tree = _load(args)
    assigned = allocate(tree)
    for org, person, address in assigned:
        line = org.source.line_of(person.fpath)
        print(f"{org.source.path}:{line}: {person.name} → {address}")
    if not assigned:
        print("Every account has its address; nothing to write.")
        return 0
    if args.check:
        print(f"{len(assigned)} address(es) to allocate: run `govmail allocate {args.dir}` and commit the result.")
        return 1
    files = write_allocations(assigned)
    print(f"Wrote {len(assigned)} address(es) into {len(files)} file(s).")
    return 0


def cmd_list(args) -> int:
    tree = _load(args)
    rows = [a.as_dict() for a in accounts(tree)]
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(render.accounts_text(rows))
    return 0


def _suffix(domain: str) -> str:
    return ",".join(f"dc={part}" for part in domain.split("."))


def _ldap_options(args, domain: str | None) -> dict:
    """Connection options from the command line, then the environment (never a password on the command line)."""
    password = os.environ.get("GOVMAIL_LDAP_BIND_PW", "")
    pw_file = args.bind_pw_file or os.environ.get("GOVMAIL_LDAP_BIND_PW_FILE")
    if pw_file:
        password = Path(pw_file).read_text(encoding="utf-8").strip()
    base = args.base_dn or os.environ.get("GOVMAIL_LDAP_BASE_DN") or (_suffix(domain) if domain else None)
    if not base:
        raise SystemExit("govmail: --base-dn is needed (or GOVMAIL_LDAP_BASE_DN)")
    return {
        "server_uri": args.ldap,
        "bind_dn": args.bind_dn or os.environ.get("GOVMAIL_LDAP_BIND_DN"),
        "bind_pw": password,
        "start_tls": args.start_tls,
        "validate_certs": True,
        "ca_path": args.ca or os.environ.get("GOVMAIL_LDAP_CA"),
        "base_dn": base,
        "connect_timeout": 10,
    }


def cmd_plan(args) -> int:
    tree = _load(args)
    current, unmanaged = [], {}
    if args.ldap:
        wire, _, current, unmanaged = read_directory(_ldap_options(args, tree.province.domain))
        wire.close()
    changes = plan(accounts(tree, []) if args.ldap else accounts(tree), current, unmanaged)
    print({"text": render.plan_text, "json": render.plan_json, "markdown": render.plan_markdown}[args.format](changes))
    return 0


def cmd_import(args) -> int:
    communes = {}
    if args.communes:
        communes = yaml.safe_load(Path(args.communes).read_text(encoding="utf-8")) or {}
    if args.csv:
        rows = importer.rows_from_csv(args.csv)
    else:
        options = _ldap_options(args, args.domain)
        conn = connect(**options)
        rows = importer.rows_from_ldap(conn, args.search_base or options["base_dn"], args.org_attr)
        conn.unbind()
    result = importer.build(rows, args.domain, args.province_code, communes)
    for line in result.skipped:
        print(f"not imported: {line}", file=sys.stderr)
    written = importer.write(result, args.out, args.domain, args.province_code, force=args.force)
    counts = result.counts
    print(
        f"Wrote {len(written)} file(s) into {args.out}: {counts['orgs']} unit(s), {counts['people']} people kept with"
    )
    print(f"their addresses; {counts['skipped']} row(s) not imported. Next: govmail validate {args.out}")
    _, problems = load_tree(args.out)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems or result.skipped else 0


def cmd_schema(args) -> int:
    folder = Path(__file__).resolve().parent / "schema"
    for name, data in SCHEMAS.items():
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if args.write:
            (folder / f"{name}.schema.json").write_text(text, encoding="utf-8")
            print(f"wrote {folder / f'{name}.schema.json'}")
        else:
            print(text)
    return 0


def _add_ldap_arguments(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument(
        "--ldap", metavar="URI", required=required, help="the live directory (ldaps://…, ldap://…, ldapi:///)"
    )
    p.add_argument("--bind-dn", help="DN to bind as (default: $GOVMAIL_LDAP_BIND_DN; none on ldapi = SASL EXTERNAL)")
    p.add_argument(
        "--bind-pw-file", help="file holding the password (default: $GOVMAIL_LDAP_BIND_PW_FILE, $GOVMAIL_LDAP_BIND_PW)"
    )
    p.add_argument("--base-dn", help="directory suffix (default: from the province domain)")
    p.add_argument("--ca", help="CA certificate of the directory (default: $GOVMAIL_LDAP_CA)")
    p.add_argument("--start-tls", action="store_true", help="StartTLS on an ldap:// URI")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="govmail", description="Official e-mail accounts as code.")
    top.add_argument("--version", action="version", version=f"govmail {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("dir", nargs="?", default=DEFAULT_DIR, help="the accounts directory (default: accounts)")
        p.set_defaults(func=func)
        return p

    p = command(
        "validate", cmd_validate, "check every account file and report every error as file:line: field: message"
    )
    p.add_argument(
        "--base", metavar="REF", help="also refuse lost or changed addresses and revived revoked ones since REF"
    )
    p = command("allocate", cmd_allocate, "write the Article 5 address of every new person into the files")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when an address is missing (CI)")
    p = command("list", cmd_list, "every account the tree defines")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p = command(
        "plan", cmd_plan, "the changes the tree asks for: against a live directory with --ldap, else an empty one"
    )
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    _add_ldap_arguments(p)

    p = sub.add_parser(
        "import", help="write account files from an existing directory or a CSV export, keeping every address"
    )
    p.set_defaults(func=cmd_import)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", help=f"a CSV file with the columns {', '.join(importer.CSV_COLUMNS)}")
    source.add_argument("--ldap", metavar="URI", help="an existing directory")
    p.add_argument("--bind-dn")
    p.add_argument("--bind-pw-file")
    p.add_argument("--base-dn")
    p.add_argument("--ca")
    p.add_argument("--start-tls", action="store_true")
    p.add_argument("--search-base", help="where to look for mailboxes (default: the base DN)")
    p.add_argument("--org-attr", default="ou", help="attribute naming each mailbox's unit (default: ou)")
    p.add_argument("--domain", default="khanhhoa.gov.vn")
    p.add_argument("--province-code", default="kh")
    p.add_argument("--communes", help="reference list of communes/wards (data/…yaml) to recognise commune units")
    p.add_argument("--out", required=True, help="directory to write the account files into")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")

    p = sub.add_parser("schema", help="print the JSON Schemas of the account files (--write: refresh schema/*.json)")
    p.set_defaults(func=cmd_schema)
    p.add_argument("--write", action="store_true")
    cli_workflow.register(sub)
    cli_lifecycle.register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except InvalidTree as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} error(s); nothing was written.", file=sys.stderr)
        return 1
    except (LdapError, FileExistsError, ValueError) as exc:
        print(f"govmail: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
