"""Testinfra checks of the converged molecule host: services, listeners, modes, live settings."""

from __future__ import annotations

import pytest

SUFFIX = "dc=khanhhoa,dc=gov,dc=vn"


def ldap_root(host, base: str, scope: str = "base", search: str = "(objectClass=*)", *attrs: str) -> str:
    """ldapsearch as root over ldapi (SASL EXTERNAL), LDIF without line wrapping."""
    cmd = host.run(
        "ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -o ldif-wrap=no -b %s -s %s %s" + " %s" * len(attrs),
        base,
        scope,
        search,
        *attrs,
    )
    assert cmd.rc == 0, cmd.stderr
    return cmd.stdout


@pytest.mark.parametrize("port", [25, 587, 143, 993, 389, 636])
def test_listening(host, port: int) -> None:
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


@pytest.mark.parametrize("process", ["slapd", "master", "dovecot"])
def test_daemons_run(host, process: str) -> None:
    assert host.process.filter(comm=process)


@pytest.mark.parametrize(
    ("path", "group", "mode"),
    [
        ("/etc/postfix/ldap/virtual_mailbox_maps.cf", "postfix", 0o640),
        ("/etc/postfix/ldap/sender_login_maps.cf", "postfix", 0o640),
        ("/etc/postfix/tls/key.pem", "root", 0o600),
        ("/etc/dovecot/dovecot-ldap-passdb.conf.ext", "root", 0o600),
        ("/etc/dovecot/dovecot-ldap-userdb.conf.ext", "root", 0o600),
        ("/etc/dovecot/private/key.pem", "root", 0o600),
        ("/etc/ldap/tls/key.pem", "openldap", 0o640),
        ("/etc/roundcube/config.inc.php", "www-data", 0o640),
        ("/etc/roundcube/plugins/password/config.inc.php", "www-data", 0o640),
        ("/etc/dovecot/dovecot-ldap-explain-suspended.conf.ext", "root", 0o600),
        ("/etc/govmail/tls/web.key", "root", 0o600),
    ],
)
def test_secret_files_are_private(host, path: str, group: str, mode: int) -> None:
    f = host.file(path)
    assert f.exists and f.user == "root" and f.group == group and f.mode == mode


def test_database_has_suffix_overlays_and_last_bind(host) -> None:
    db = ldap_root(host, "olcDatabase={1}mdb,cn=config")
    assert f"olcSuffix: {SUFFIX}" in db
    assert "olcLastBind: TRUE" in db
    overlays = ldap_root(host, "olcDatabase={1}mdb,cn=config", "one", "(objectClass=olcOverlayConfig)", "olcOverlay")
    assert "olcOverlay: {0}ppolicy" in overlays and "olcOverlay: {1}unique" in overlays


def test_govmail_schema_is_loaded(host) -> None:
    schema = ldap_root(host, "cn=schema,cn=config", "one", "(cn=*govmail)", "olcObjectClasses", "olcAttributeTypes")
    for name in ("govmailAccount", "govmailState", "govmailStateSince", "govmailManaged", "govmailAlias"):
        assert f"'{name}'" in schema


def test_default_password_policy_matches_article_6(host) -> None:
    policy = ldap_root(host, f"cn=default,ou=policies,{SUFFIX}")
    for line in (
        "pwdMinLength: 8",
        "pwdMustChange: TRUE",
        "pwdMaxAge: 7776000",
        "pwdLockout: FALSE",
        "pwdMinAge: 86400",
        "pwdSafeModify: TRUE",
        "pwdCheckModule: /usr/lib/ldap/govmail_pwcheck-",
    ):
        assert line in policy


def test_dit_skeleton(host) -> None:
    ous = ldap_root(host, SUFFIX, "one", "(objectClass=organizationalUnit)", "ou")
    for ou in ("accounts", "revoked", "services", "policies"):
        assert f"ou: {ou}" in ous


def test_postfix_settings(host) -> None:
    conf = host.check_output("postconf -h virtual_mailbox_maps smtpd_sender_login_maps virtual_transport")
    assert "ldap:/etc/postfix/ldap/virtual_mailbox_maps.cf" in conf
    assert "lmtp:unix:private/dovecot-lmtp" in conf
    submission = host.check_output("postconf -P submission/inet")
    assert "smtpd_tls_security_level = encrypt" in submission
    assert "smtpd_sender_restrictions = reject_non_fqdn_sender,reject_sender_login_mismatch" in submission


def test_dovecot_settings(host) -> None:
    conf = host.check_output("doveconf -h ssl disable_plaintext_auth")
    assert conf.split() == ["required", "yes"]
    assert host.run("doveadm who").rc == 0  # doveadm reaches the running server


def test_the_filter_listens_on_the_loopback_only_and_postfix_uses_it(host) -> None:
    """rspamd's milter and controller, Redis and Dovecot's quota-status: loopback only (issue 12)."""
    for port in (11332, 11334, 6379, 12340):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening, port
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening, port
    assert host.socket("unix:///run/clamav/clamd.ctl").is_listening
    assert host.check_output("postconf -h smtpd_milters") == "inet:127.0.0.1:11332"
    assert "postscreen" in host.check_output("postconf -M smtp/inet")
    key = host.file("/var/lib/rspamd/dkim/khanhhoa.gov.vn.govmail.key")
    assert (key.user, key.mode) == ("_rspamd", 0o600)


def test_password_page_is_served_over_tls_only(host) -> None:
    assert host.socket("tcp://0.0.0.0:443").is_listening
    fetch = (
        "import ssl, urllib.request as u; c = ssl.create_default_context(cafile='/etc/govmail/tls/ldap-ca.pem');"
        "print(u.urlopen('https://localhost/password', context=c).read().decode())"
    )
    page = host.run("python3 -c %s", fetch)
    assert page.rc == 0, page.stderr
    assert "Đổi mật khẩu thư điện tử công vụ" in page.stdout


def test_webmail_is_served_over_tls_at_the_root(host) -> None:
    """Roundcube's login page at https://<mail host>/ (R3.1), PHP-FPM behind nginx; its sources are not served."""
    fetch = (
        "import ssl, sys, urllib.request as u, urllib.error as e\n"
        "c = ssl.create_default_context(cafile='/etc/roundcube/tls/ca.pem')\n"
        "def get(path):\n"
        "    try:\n"
        "        r = u.urlopen('https://localhost' + path, context=c)\n"
        "        return r.status, r.read().decode()\n"
        "    except e.HTTPError as x:\n"
        "        return x.code, ''\n"
        "status, page = get('/')\n"
        "print(status, 'rcmloginuser' in page)\n"
        "for p in ('/plugins/password/config.inc.php', '/program/include/rcmail.php',"
        "          '/.htaccess', '/config/config.inc.php'):\n"
        "    print(p, get(p)[0])\n"
    )
    out = host.run("python3 -c %s", fetch)
    assert out.rc == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "200 True"
    for line in lines[1:]:
        assert line.split()[-1] in ("403", "404"), line


def test_sieve_and_managesieve(host) -> None:
    assert host.socket("tcp://0.0.0.0:4190").is_listening
    assert "sieve" in host.check_output("doveconf -h protocols").split()
    assert "sieve" in host.check_output("doveconf -h -f protocol=lmtp mail_plugins").split()
