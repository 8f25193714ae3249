"""The page as a WSGI application for gunicorn (the password_page role's systemd unit):
``gunicorn govmail.password_page.wsgi:application`` with ``GOVMAIL_PASSWORD_PAGE_CONFIG`` naming
the JSON configuration that ``python -m govmail.password_page --config`` reads too.

The sign-in throttle lives in the process: the unit runs ONE worker (with threads), so every
attempt is counted by the same throttle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .app import PasswordPage, config_from

CONFIG_ENV = "GOVMAIL_PASSWORD_PAGE_CONFIG"


def load(path: str | None = None) -> PasswordPage:
    path = path or os.environ.get(CONFIG_ENV)
    if not path:
        raise RuntimeError(f"{CONFIG_ENV} must name the password page's JSON configuration")
    return PasswordPage(config_from(json.loads(Path(path).read_text(encoding="utf-8"))))


application = load() if os.environ.get(CONFIG_ENV) else None
