"""The ``govmail`` command: validate, allocate, list and plan the account files."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__, cli_workflow, render
from .addresses import accounts, allocate
from .plan import plan
from .problems import InvalidTree
from .rules import load_valid
from .writer import write_allocations

DEFAULT_DIR = "accounts"


def _load(args):
    return load_valid(args.dir)


def cmd_validate(args) -> int:
    tree = _load(args)
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
    changes = plan(accounts(tree), current=[])
    print({"text": render.plan_text, "json": render.plan_json, "markdown": render.plan_markdown}[args.format](changes))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="govmail", description="Official e-mail accounts as code.")
    top.add_argument("--version", action="version", version=f"govmail {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("dir", nargs="?", default=DEFAULT_DIR, help="the accounts directory (default: accounts)")
        p.set_defaults(func=func)
        return p

    command("validate", cmd_validate, "check every account file and report every error as file:line: field: message")
    p = command("allocate", cmd_allocate, "write the Article 5 address of every new person into the files")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when an address is missing (CI)")
    p = command("list", cmd_list, "every account the tree defines")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p = command("plan", cmd_plan, "the changes the tree asks for (against an empty directory)")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    cli_workflow.register(sub)
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
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
