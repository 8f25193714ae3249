#!/usr/bin/python
"""Ansible module: converge the whole account set into the directory in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: govmail_accounts
short_description: Converge every official mail account declared in the account files into OpenLDAP
description:
  - Reads the account files (C(accounts/)), validates them, reads the govmail-managed part of the
    directory once (paged search), computes a plan and only then writes (create, adopt, update, move,
    reset, suspend, restore and revoke; regulation Articles 5-8).
  - Only entries with C(govmailManaged=TRUE) are ever changed. Entries no file declares are
    reported as drift and left alone unless O(remove_drift=true).
  - Initial passwords (R6.1, R6.2) are generated here, sent to the directory in clear over the
    protected connection (slapd hashes them), and delivered to the unit's mailbox by SMTP and/or
    to the operator as an age-encrypted file. They never appear in the result, the report or logs.
  - A revoke needs a verified mailbox archive (see M(govmail_mailbox)) listed in O(archives).
  - "Runs on the controller (C(delegate_to: localhost)) or any host with the Python requirements."
version_added: "0.1.0"
author: govmail maintainers
requirements: [python-ldap, pyyaml, jsonschema, unidecode]
options:
  accounts_dir:
    description: The account tree to converge.
    type: path
    default: accounts
  archives:
    description:
      - Verified mailbox archives, as returned by M(govmail_mailbox) (C(address), C(path), C(sha256), C(verified)).
      - An account is revoked only when its archive is listed here with C(verified=true).
    type: list
    elements: dict
    default: []
  max_removals:
    description: Stop before writing when more accounts than this would be revoked or removed in total.
    type: int
    default: 10
  max_removal_share:
    description:
      - Stop before writing when a unit would lose more than this share of its live accounts.
      - A unit losing one or two accounts is exempt.
    type: float
    default: 0.25
  allow_large_removals:
    description: Override both removal guards (peribolos' maximum-removal-delta).
    type: bool
    default: false
  remove_drift:
    description: Revoke (after archiving) managed entries that no file declares. Off by default.
    type: bool
    default: false
  smtp:
    description: Deliver initial passwords through this mail server, one message per receiving mailbox.
    type: dict
    suboptions:
      host: {description: SMTP server., type: str, required: true}
      port: {description: SMTP port., type: int, default: 25}
      starttls: {description: Use STARTTLS (on by default; passwords never go in clear)., type: bool, default: true}
      validate_certs: {description: Verify the server certificate., type: bool, default: true}
      ca_path: {description: CA bundle for the server certificate., type: path}
      username: {description: SMTP AUTH user., type: str}
      password: {description: SMTP AUTH password., type: str}
      sender: {description: From address; defaults to the province's first system account., type: str}
  age_recipients:
    description:
      - age public keys of the operator.
      - The passwords are also written to an age-encrypted file next to the report.
    type: list
    elements: str
    default: []
  password_url:
    description: Where people change their initial password (named in the delivered message).
    type: str
    default: https://mail.khanhhoa.gov.vn/password
  commit:
    description: Git commit of the account files being applied, recorded in the report.
    type: str
  report_path:
    description: Where to write the JSON apply report (format govmail-apply/1).
    type: path
  mail_backends:
    description:
      - Host names of the mail backends (several mailbox servers behind a front), in the inventory's order.
      - Every live mailbox without C(govmailMailHost) gets the least-loaded one (ties by this order); an
        assigned one is never changed here (moving a mailbox is C(playbooks/move.yml)). Empty = one mail host.
    type: list
    elements: str
    default: []
  server_uri:
    description: LDAP URI (ldapi:///, ldap://host, ldaps://host:636).
    type: str
    default: ldapi:///
  bind_dn:
    description: DN to bind as (the provisioner identity). Empty means SASL EXTERNAL on ldapi:///.
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
    description: Suffix of the directory (dc=khanhhoa,dc=gov,dc=vn).
    type: str
    required: true
  connect_timeout:
    description: Seconds to wait for the directory.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Reads the directory and returns the plan; writes nothing.
  diff_mode:
    support: full
    description: Before/after of every account the plan touches.
notes:
  - Validation of every file happens before the first write; on any error nothing is applied.
  - A change the server refuses is reported in RV(failed) and does not stop the others; the task fails at the end.
"""

EXAMPLES = r"""
- name: Show what the account files would change (pull request)
  govmail_accounts:
    accounts_dir: accounts
    server_uri: ldaps://ldap.khanhhoa.gov.vn
    bind_dn: cn=provisioner,ou=services,dc=khanhhoa,dc=gov,dc=vn
    bind_pw: "{{ vault_provisioner_password }}"
    base_dn: dc=khanhhoa,dc=gov,dc=vn
  check_mode: true
  delegate_to: localhost

- name: Apply after merge, delivering passwords through the mail server
  govmail_accounts:
    accounts_dir: accounts
    server_uri: ldaps://ldap.khanhhoa.gov.vn
    bind_dn: cn=provisioner,ou=services,dc=khanhhoa,dc=gov,dc=vn
    bind_pw: "{{ vault_provisioner_password }}"
    base_dn: dc=khanhhoa,dc=gov,dc=vn
    archives: "{{ mailbox_archives.archives }}"
    smtp: {host: mail.khanhhoa.gov.vn, port: 25}
    report_path: var/reports/apply.json
  delegate_to: localhost
"""

RETURN = r"""
plan:
  description: Every change, in the order applied, with its result (ok, failed, planned, reported).
  returned: always
  type: list
  elements: dict
  sample: [{op: create, address: nvbinh@khanhhoa.gov.vn, kind: person, org: skhcn, unit: ppc, result: ok}]
summary:
  description: Counts per operation and per unit.
  returned: always
  type: dict
failed:
  description: Changes the directory refused, with the reason.
  returned: always
  type: list
  elements: dict
notified:
  description: Where initial passwords were delivered (mailbox or file, and which accounts; never the passwords).
  returned: always
  type: list
  elements: dict
revoking:
  description: Addresses the plan revokes; archive their mailboxes (M(govmail_mailbox)) before applying.
  returned: always
  type: list
  elements: str
revoking_on:
  description:
    - The same addresses by the mail backend holding each (C(govmailMailHost)); C(*) for those without one.
  returned: always
  type: dict
kick:
  description: Addresses whose sessions must be cut now (suspended, reset, revoked).
  returned: always
  type: list
  elements: str
report_path:
  description: Path of the JSON apply report, when one was written.
  returned: when report_path is set
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.govmail.directory.converge import Guards, GuardTripped
from ansible.module_utils.govmail.directory.ldap_client import LdapError, ldap_argument_spec, ldap_params
from ansible.module_utils.govmail.directory.run import Delivery, converge, followups
from ansible.module_utils.govmail.mailhost.smtp import SmtpChannel
from ansible.module_utils.govmail.model.problems import InvalidTree

ARGUMENT_SPEC = {
    "accounts_dir": {"type": "path", "default": "accounts"},
    "archives": {"type": "list", "elements": "dict", "default": []},
    "max_removals": {"type": "int", "default": 10},
    "max_removal_share": {"type": "float", "default": 0.25},
    "allow_large_removals": {"type": "bool", "default": False},
    "remove_drift": {"type": "bool", "default": False},
    "smtp": {
        "type": "dict",
        "options": {
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 25},
            "starttls": {"type": "bool", "default": True},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "sender": {"type": "str"},
        },
    },
    "age_recipients": {"type": "list", "elements": "str", "default": []},
    "password_url": {"type": "str", "default": "https://mail.khanhhoa.gov.vn/password", "no_log": False},
    "commit": {"type": "str"},
    "report_path": {"type": "path"},
    "mail_backends": {"type": "list", "elements": "str", "default": []},
    **ldap_argument_spec(),
}

_SHOWN = ("kind", "org", "unit", "name", "status")


def _diff(plan: list[dict]) -> list[dict]:
    """One before/after per touched account, as YAML-ish text the --diff callback prints."""
    out = []
    for change in plan:
        if change["op"] in ("drift",):
            continue
        before = {k: v[0] for k, v in change["changes"].items()}
        after = {k: v[1] for k, v in change["changes"].items()}
        if change["op"] == "create":
            after = {k: change[k] for k in _SHOWN if change.get(k) is not None}
        lines = lambda d: "".join(f"{k}: {v}\n" for k, v in d.items())  # noqa: E731 — one-line formatter
        label = f"{change['address']} ({change['op']})"
        out.append({"before": lines(before), "after": lines(after), "before_header": label, "after_header": label})
    return out


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    smtp = SmtpChannel(**p["smtp"]) if p["smtp"] else None
    delivery = Delivery(smtp=smtp, age_recipients=p["age_recipients"], web_url=p["password_url"])
    guards = Guards(p["max_removals"], p["max_removal_share"], p["allow_large_removals"])
    try:
        report = converge(
            p["accounts_dir"],
            ldap_params(p),
            check_mode=module.check_mode,
            archives=p["archives"],
            guards=guards,
            remove_drift=p["remove_drift"],
            delivery=delivery,
            commit=p["commit"],
            report_path=p["report_path"],
            mail_backends=p["mail_backends"],
        )
    except InvalidTree as exc:
        module.fail_json(
            msg="the account files are invalid; nothing was applied", errors=[str(e) for e in exc.problems]
        )
    except GuardTripped as exc:
        module.fail_json(msg=str(exc))
    except (LdapError, ValueError) as exc:
        module.fail_json(msg=str(exc))

    plan = report["changes"]
    writes = [c for c in plan if c["result"] in ("ok", "planned") and c["op"] != "drift"]
    failed = [c for c in plan if c["result"] == "failed"]
    result = {
        "changed": bool(writes),
        "plan": plan,
        "summary": report["summary"],
        "failed": failed,
        "notified": report["notified"],
        **followups(report),
    }
    if p["report_path"]:
        result["report_path"] = p["report_path"]
    if module._diff:
        result["diff"] = _diff(plan)
    if failed:
        module.fail_json(msg=f"{len(failed)} change(s) were refused; the others were applied", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
