#!/usr/bin/python
"""Ansible module: one step of moving a mailbox between mail backends (playbooks/move.yml)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: govmail_move
short_description: One step of moving a mailbox between mail backends, on the front or a backend
description:
  - The mail side of C(playbooks/move.yml) (docs/cluster.md "Move a mailbox"); the directory side is
    M(govmail_mailhost).
  - C(step=sync), on the old backend, runs a two-way C(doveadm sync) of the mailbox with the new
    backend's doveadm server (TLS); with O(final=true) it first ends the mailbox's sessions there, and
    returns the old backend's message counts per folder.
  - C(step=drain), on the front, reloads Postfix, waits until no message already routed to the mailbox is in Postfix's
    active queue, then forgets the mailbox's cached login.
  - C(step=verify), on the new backend, fails unless every folder holds at least the messages of
    O(expect) (the old backend's counts).
  - C(step=retire), on the old backend, moves the old copy aside (C(<vmail_home>/.moved/)).
version_added: "0.1.0"
author: govmail maintainers
options:
  step:
    description: Which step.
    type: str
    required: true
    choices: [sync, drain, verify, retire]
  address:
    description: The mailbox.
    type: str
    required: true
  target:
    description: Host name of the new backend (C(step=sync)).
    type: str
  port:
    description: Port of the new backend's doveadm server (C(step=sync)).
    type: int
    default: 12345
  final:
    description: The last sync (C(step=sync)); sessions on the old backend are ended first.
    type: bool
    default: false
  expect:
    description: Messages per folder the new backend must hold at least (C(step=verify)).
    type: dict
    default: {}
  wait:
    description: Seconds C(step=drain) waits at most.
    type: int
    default: 120
  vmail_home:
    description: Root of the mail store (C(step=retire)).
    type: path
    default: /var/vmail
  stamp:
    description: Suffix of the retired copy's name (C(step=retire)).
    type: str
    default: moved
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Copy the mailbox to the new backend while it stays in use
  govmail_move:
    step: sync
    address: nvbinh@khanhhoa.gov.vn
    target: mail2.khanhhoa.gov.vn
"""

RETURN = r"""
counts:
  description: Messages per folder on this backend (C(step=sync) with O(final=true), C(step=verify)).
  returned: when read
  type: dict
attempts:
  description: >-
    How many runs of C(doveadm sync) it took (C(step=sync)); a run that desynced or stalled (no I/O
    for 30 s) is run again, up to 4 times.
  returned: when step is sync
  type: int
waited:
  description: Seconds C(step=drain) waited.
  returned: when step is drain
  type: int
retired:
  description: Where the old copy went (C(step=retire)); null when there was none.
  returned: when step is retire
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.govmail.mailhost import move


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "step": {"type": "str", "required": True, "choices": ["sync", "drain", "verify", "retire"]},
            "address": {"type": "str", "required": True},
            "target": {"type": "str"},
            "port": {"type": "int", "default": 12345},
            "final": {"type": "bool", "default": False},
            "expect": {"type": "dict", "default": {}},
            "wait": {"type": "int", "default": 120},
            "vmail_home": {"type": "path", "default": "/var/vmail"},
            "stamp": {"type": "str", "default": "moved"},
        },
        required_if=[("step", "sync", ["target"])],
    )
    p = module.params
    address = p["address"].lower()
    try:
        if p["step"] == "sync":
            if p["final"]:
                move.kick(address)
            attempts = move.sync(address, p["target"], p["port"])
            module.exit_json(changed=True, attempts=attempts, counts=move.local_counts(address) if p["final"] else None)
        elif p["step"] == "drain":
            module.exit_json(changed=False, waited=move.drain(address, p["wait"]))
        elif p["step"] == "verify":
            have = move.local_counts(address)
            totals = move.check_copied({k: int(v) for k, v in p["expect"].items()}, have)
            module.exit_json(changed=False, counts=have, **totals)
        else:
            module.exit_json(changed=True, retired=move.retire(address, p["vmail_home"], p["stamp"]))
    except (RuntimeError, move.NotCopied, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
