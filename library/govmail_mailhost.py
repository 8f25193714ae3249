#!/usr/bin/python
"""Ansible module: read or set the mail backend of one mailbox (govmailMailHost) in the directory."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: govmail_mailhost
short_description: Read or set which mail backend holds a mailbox (govmailMailHost)
description:
  - The directory side of C(playbooks/move.yml) (docs/cluster.md "Move a mailbox"); the mail side is
    M(govmail_move).
  - Without O(backend), returns the mailbox's entry and backend.
  - With O(backend), writes it to the first provider of O(server_uri) that answers, then waits until
    every provider of the list shows it (providers that do not answer are listed in RV(unreachable)).
  - "Runs on the controller (C(delegate_to: localhost))."
version_added: "0.1.0"
author: govmail maintainers
requirements: [python-ldap, ldap3]
options:
  address:
    description: The mailbox's address.
    type: str
    required: true
  backend:
    description: The backend to point the mailbox at (one of O(backends)).
    type: str
  backends:
    description: The mail backends of the inventory (C(govmail_mail_backends)).
    type: list
    elements: str
    default: []
  wait:
    description: Seconds to wait at most for every provider to show the new backend.
    type: int
    default: 60
  server_uri:
    description: LDAP URI, or several (spaces or commas) in order of preference.
    type: str
    default: ldapi:///
  bind_dn:
    description: DN to bind as (the provisioner identity).
    type: str
  bind_pw:
    description: Password of O(bind_dn).
    type: str
    default: ""
  start_tls:
    description: Use StartTLS on ldap:// URIs.
    type: bool
    default: false
  validate_certs:
    description: Verify the directory's certificate.
    type: bool
    default: true
  ca_path:
    description: CA certificate file for the directory.
    type: path
  base_dn:
    description: Suffix of the directory.
    type: str
    required: true
  connect_timeout:
    description: Seconds to wait for the directory.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Point the mailbox at its new backend
  govmail_mailhost:
    address: nvbinh@khanhhoa.gov.vn
    backend: mail2.khanhhoa.gov.vn
    backends: "{{ govmail_mail_backends }}"
    server_uri: ldap://ldap1.khanhhoa.gov.vn ldap://ldap2.khanhhoa.gov.vn
    start_tls: true
    bind_dn: cn=provisioner,ou=services,dc=khanhhoa,dc=gov,dc=vn
    bind_pw: "{{ govmail_ldap_bind_pw }}"
    base_dn: dc=khanhhoa,dc=gov,dc=vn
  delegate_to: localhost
"""

RETURN = r"""
dn:
  description: The mailbox's entry.
  returned: always
  type: str
mail_host:
  description: Its backend (after the change, when one was made).
  returned: always
  type: str
before:
  description: Its backend before the change.
  returned: when backend is set
  type: str
unreachable:
  description: Providers that did not answer while waiting.
  returned: when backend is set
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.govmail.directory import mailhost
from ansible.module_utils.govmail.directory.ldap_client import LdapError, ldap_argument_spec, ldap_params


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "address": {"type": "str", "required": True},
            "backend": {"type": "str"},
            "backends": {"type": "list", "elements": "str", "default": []},
            "wait": {"type": "int", "default": 60},
            **ldap_argument_spec(),
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        if not p["backend"] or module.check_mode:
            found = mailhost.where(ldap_params(p), p["address"])
            module.exit_json(changed=bool(p["backend"]) and found["mail_host"] != p["backend"].lower(), **found)
        done = mailhost.point(ldap_params(p), p["address"], p["backend"], p["backends"], wait=p["wait"])
        module.exit_json(**done)
    except (LdapError, mailhost.MoveRefused) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
