"""The ``govmail`` command: validate, allocate, list and plan the account files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from ..directory import importer, render
from ..directory.ldap_client import connect
from ..directory.plan import plan
from ..directory.run import read_directory
from ..model.addresses import accounts, allocate
from ..model.problems import InvalidTree
from ..model.rules import load_valid
from ..model.schemas import SCHEMAS
from ..model.tree import load as load_tree
from ..model.writer import write_allocations
from ..workflow.continuity import check_against
from .common import DEFAULT_DIR, add_ldap_arguments, ldap_options


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


def cmd_plan(args) -> int:
    tree = _load(args)
    current, unmanaged = [], {}
    if args.ldap:
        wire, _, current, unmanaged = read_directory(ldap_options(args, tree.province.domain), args.dir)
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
        options = ldap_options(args, args.domain)
        with connect(**options) as directory:
            rows = importer.rows_from_ldap(directory, args.search_base or options["base_dn"], args.org_attr)
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
    folder = Path(__file__).resolve().parent.parent / "schema"
    for name, data in SCHEMAS.items():
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if args.write:
            (folder / f"{name}.schema.json").write_text(text, encoding="utf-8")
            print(f"wrote {folder / f'{name}.schema.json'}")
        else:
            print(text)
    return 0


def register(sub) -> None:
    """Add the account-file commands to the ``govmail`` parser's subcommands."""

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
    add_ldap_arguments(p)

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
