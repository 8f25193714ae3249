"""``python -m govmail.password_page``: run the page (the systemd unit / init script calls this)."""

from .app import main

raise SystemExit(main())
