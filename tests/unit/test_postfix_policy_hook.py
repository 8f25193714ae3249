"""The one hook issue 6 added to the postfix role: postfix__submission_policy_services."""

from __future__ import annotations

import jinja2
import yaml

from helpers import REPO

TEMPLATE = REPO / "roles/postfix/templates/etc/postfix/master.cf.j2"


def _render(services) -> str:
    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)  # Ansible's template defaults
    return env.from_string(TEMPLATE.read_text()).render(
        ansible_managed="test", postfix__submission_policy_services=services
    )


def test_the_default_is_empty_and_renders_no_policy_line():
    defaults = yaml.safe_load((REPO / "roles/postfix/defaults/main.yml").read_text())
    assert defaults["postfix__submission_policy_services"] == []
    assert "smtpd_end_of_data_restrictions" not in _render([])
    assert "{%" not in _render([]) and "\n\n" not in _render([]).split("pickup")[0]


def test_policy_services_go_to_the_end_of_data_restrictions_of_submission_only():
    text = _render(["inet:127.0.0.1:10031", "unix:private/other"])
    submission = text.split("submission inet", 1)[1].split("\npickup", 1)[0]
    expected = "  -o { smtpd_end_of_data_restrictions = check_policy_service inet:127.0.0.1:10031, "
    expected += "check_policy_service unix:private/other }"
    assert expected in submission.splitlines()
    assert text.count("smtpd_end_of_data_restrictions") == 1
