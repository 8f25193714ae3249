"""The ``govmail`` command: one parser, each command group registering its own subcommands."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..directory.ldap_client import LdapError
from ..model.problems import InvalidTree
from . import accounts, directory, lifecycle, mailservice, operations, workflow


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="govmail", description="Official e-mail accounts as code.")
    top.add_argument("--version", action="version", version=f"govmail {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    accounts.register(sub)
    workflow.register(sub)
    lifecycle.register(sub)
    directory.register(sub)
    mailservice.register(sub)
    operations.register(sub)
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
