"""What every ``govmail`` command group shares: the default accounts folder, date arguments, LDAP options."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

DEFAULT_DIR = "accounts"  # shared by every govmail command


def date_arg(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD dates."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc


def suffix(domain: str) -> str:
    return ",".join(f"dc={part}" for part in domain.split("."))


def ldap_options(args, domain: str | None) -> dict:
    """Connection options from the command line, then the environment (never a password on the command line)."""
    password = os.environ.get("GOVMAIL_LDAP_BIND_PW", "")
    pw_file = args.bind_pw_file or os.environ.get("GOVMAIL_LDAP_BIND_PW_FILE")
    if pw_file:
        password = Path(pw_file).read_text(encoding="utf-8").strip()
    base = args.base_dn or os.environ.get("GOVMAIL_LDAP_BASE_DN") or (suffix(domain) if domain else None)
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


def add_ldap_arguments(p: argparse.ArgumentParser, required: bool = False) -> None:
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
