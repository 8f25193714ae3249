"""The password_page role's systemd unit and configuration, rendered from the role's templates and
defaults: the unit's command (Debian's gunicorn, one worker) runs the application from the engine's
copied modules (as the role installs them) with the unit's environment, serves the page, changes a
password against a real slapd, and stops."""

from __future__ import annotations

import configparser
import datetime as dt
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import jinja2
import pytest
import yaml
from ldap3_client import connect
from lifecycle_helpers import backdate, set_password, user_bind

from helpers import REPO

pytestmark = pytest.mark.integration
ROLE = REPO / "roles/password_page"
WHO = "nvbinh@khanhhoa.gov.vn"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _render(name: str, values: dict) -> str:
    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["to_nice_json"] = lambda value: json.dumps(value, indent=4)
    return env.from_string((ROLE / "templates" / name).read_text()).render(values)


def test_the_role_runs_the_page_from_the_copied_modules(tmp_path, slapd, ldap):
    conn = connect(**ldap)
    attrs = {"uid": "nvbinh", "cn": "Nguyễn Văn Bình", "sn": "Nguyễn", "mail": WHO, "govmailManaged": "TRUE",
             "govmailState": "active", "govmailKind": "person"}  # fmt: skip
    assert conn.add(f"uid=nvbinh,ou=accounts,{slapd.suffix}", ["inetOrgPerson", "govmailAccount"], attrs)
    conn.unbind()
    current = set_password(slapd, WHO)
    backdate(slapd, WHO, dt.date.today() - dt.timedelta(days=2))  # past the minimum age (pwdMinAge)

    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    port = _port()
    install, config = tmp_path / "lib", tmp_path / "etc"
    (install / "govmail").mkdir(parents=True)
    config.mkdir()
    for name in defaults["password_page__source_files"]:
        (install / "govmail" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "module_utils/govmail" / name, install / "govmail" / name)
    values = {
        **defaults,
        "ansible_managed": "test",
        "password_page__listen": f"127.0.0.1:{port}",
        "password_page__ldap_uri": slapd.uri,
        "password_page__ldap_start_tls": False,
        "password_page__ldap_ca_src": "",
        "password_page__ldap_suffix": slapd.suffix,
        "password_page__domain": "khanhhoa.gov.vn",
        "password_page__reader_dn": slapd.mailserver[0],
        "password_page__decoy_dn": f"cn=decoy,ou=services,{slapd.suffix}",
        "password_page__install_dir": str(install),
        "password_page__config_dir": str(config),
        "password_page__user": "root",
    }
    (config / "password-page.json").write_text(_render("etc/govmail/password-page/password-page.json.j2", values))
    (config / "password-page.reader").write_text(slapd.mailserver[1] + "\n")
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    rendered = _render("etc/systemd/system/govmail-password-page.service.j2", values)
    unit.read_string(rendered)
    service = unit["Service"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    command = shlex.split(service["ExecStart"].replace("%%", "%"))  # systemd's own unescaping
    assert command[0] == "/usr/bin/gunicorn" and command[command.index("--workers") + 1] == "1"
    env = dict(os.environ)
    for line in rendered.splitlines():  # every Environment= line (configparser keeps only the last)
        if line.startswith("Environment="):
            key, _, value = line.removeprefix("Environment=").partition("=")
            env[key] = value
    assert env["PYTHONPATH"] == str(install)
    log = (tmp_path / "page.log").open("wb")
    page_proc = subprocess.Popen(command, cwd=service["WorkingDirectory"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/password"
    try:
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        deadline = time.monotonic() + 15
        while True:
            try:
                page = opener.open(url, timeout=5).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "page.log").read_text()
                time.sleep(0.1)
        assert "<title>Đổi mật khẩu thư điện tử công vụ</title>" in page
        token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        # The role's configuration marks cookies Secure (the page is behind TLS): send the token by hand.
        new = "Qz8#" + secrets.token_urlsafe(12)
        form = urllib.parse.urlencode({"csrf": token, "address": WHO, "current": current, "new": new, "confirm": new})
        request = urllib.request.Request(url, data=form.encode(), headers={"Cookie": f"csrf={token}"})
        answer = urllib.request.urlopen(request, timeout=10).read().decode()
        assert "Đã đổi mật khẩu." in answer
        assert user_bind(slapd, WHO, new).bound
        assert page_proc.poll() is None
    finally:
        page_proc.terminate()
        page_proc.wait(timeout=30)
        log.close()
    assert current not in (tmp_path / "page.log").read_text() and new not in (tmp_path / "page.log").read_text()
