"""Sending the quarterly review (R10.5): each unit's list, with the last activity read from the
directory, to the unit's mailbox through SMTP. The list and the answers: ``workflow.review``."""

from __future__ import annotations

import datetime as dt

from ..directory.layout import Layout
from ..directory.ldap_client import Directory
from ..mailhost.smtp import SmtpChannel, deliver
from ..model.orgs import Tree
from ..workflow import review
from .clocks import read_activity


def last_logins(directory: Directory, suffix: str) -> dict:
    """address → date of the last successful login (pwdLastSuccess), from the live directory."""
    return {address: a.last_login for address, a in read_activity(directory, Layout(suffix)).items()}


def send(
    tree: Tree,
    channel: SmtpChannel,
    quarter: str,
    last_activity: dict,
    *,
    today: dt.date | None = None,
    request_url: str | None = None,
    only: set[str] | None = None,
) -> list[dict]:
    """One message per unit with a mailbox (``only``: these units); what happened to each."""
    quarter = review.check_quarter(quarter)
    today = today or dt.date.today()
    lists = [u for u in review.unit_lists(tree, last_activity) if only is None or u.org_id in only]
    messages = {u.org_id: review.message(tree, u, quarter, today, request_url) for u in lists}
    results = deliver(channel, messages)
    return [{"unit": u.org_id, "to": u.mailbox, "accounts": len(u.rows), "error": results.get(u.org_id)} for u in lists]
