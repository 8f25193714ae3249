#!/usr/bin/python
"""Ansible module: archive mailboxes before revocation and cut sessions, on the mail host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: govmail_mailbox
short_description: Archive official mailboxes (verified) and cut IMAP sessions on the mail host
description:
  - Runs on the Dovecot host. For each address in O(archive), writes a dated C(.tar.gz) of the
    mailbox (through C(doveadm backup) while the account resolves, else from the maildir), re-reads
    it, compares it file by file with the copy, and records its SHA-256 beside it (R8.2d; nothing
    is revoked without a verified archive).
  - For each address in O(kick), flushes Dovecot's authentication cache and cuts open sessions, so a
    suspension, reset or revocation takes effect at once (R8.1).
  - Standard library only on the mail host.
version_added: "0.1.0"
author: govmail maintainers
options:
  archive:
    description: Addresses whose mailbox must be archived.
    type: list
    elements: str
    default: []
  kick:
    description: Addresses whose sessions are cut and cached logins forgotten.
    type: list
    elements: str
    default: []
  archive_dir:
    description: Root of the archives; files go to C(<archive_dir>/<year>/<date>-<address>.tar.gz).
    type: path
    default: /var/mail-archive
  maildir_root:
    description: Root of the maildirs, laid out as C(<maildir_root>/<domain>/<local part>).
    type: path
    default: /var/vmail
  doveadm:
    description: The doveadm command.
    type: str
    default: doveadm
attributes:
  check_mode:
    support: full
    description: Reports what would be archived and kicked; touches nothing.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Archive the mailboxes the plan revokes
  govmail_mailbox:
    archive: "{{ hostvars.localhost.govmail_plan.revoking }}"
  register: govmail_archives

- name: Cut the sessions of suspended and reset accounts
  govmail_mailbox:
    kick: [lvtam@khanhhoa.gov.vn]
"""

RETURN = r"""
archives:
  description: One record per archived mailbox.
  returned: always
  type: list
  elements: dict
  sample: [{address: lvtam@khanhhoa.gov.vn, path: /var/mail-archive/2026/20261128-lvtam@khanhhoa.gov.vn.tar.gz,
            sha256: 3f5a..., bytes: 20480, messages: 12, verified: true, created: true}]
kicked:
  description: Addresses that had sessions cut.
  returned: always
  type: list
  elements: str
"""

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.govmail.mailhost.mailbox import ArchiveError, archive, kick

ARGUMENT_SPEC = {
    "archive": {"type": "list", "elements": "str", "default": []},
    "kick": {"type": "list", "elements": "str", "default": []},
    "archive_dir": {"type": "path", "default": "/var/mail-archive"},
    "maildir_root": {"type": "path", "default": "/var/vmail"},
    "doveadm": {"type": "str", "default": "doveadm"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    if module.check_mode:
        module.exit_json(changed=bool(p["archive"] or p["kick"]), archives=[], kicked=[], would_archive=p["archive"])
    records = []
    for address in p["archive"]:
        local, _, domain = address.partition("@")
        try:
            records.append(
                archive(address, Path(p["maildir_root"]) / domain / local, Path(p["archive_dir"]), doveadm=p["doveadm"])
            )
        except (ArchiveError, OSError) as exc:
            module.fail_json(msg=f"archiving {address} failed: {exc}", archives=records)
    kicked = kick(p["kick"], doveadm=p["doveadm"])
    changed = any(r["created"] for r in records) or bool(kicked)
    module.exit_json(changed=changed, archives=records, kicked=kicked)


if __name__ == "__main__":
    main()
