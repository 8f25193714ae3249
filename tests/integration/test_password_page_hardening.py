"""The password page's own defences (issue 10, section 6), against a real slapd with the role's policy:
it verifies the directory's certificate or refuses to start, fails closed when its reader cannot
read, does the same work for an unknown address as for a wrong password (a bind of the decoy
entry), and keeps the throttle per client so nobody can block someone else."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys

import pytest
from ldap3 import MODIFY_REPLACE
from ldap3_client import connect
from lifecycle_helpers import backdate, root, user_bind
from tls_impostor import Impostor, certificate

from govmail.password_page.app import Config, PasswordPage

pytestmark = pytest.mark.integration
WHO = "nvbinh@khanhhoa.gov.vn"


def _strong() -> str:
    return "Kx7#" + secrets.token_hex(6) + "Qz"


@pytest.fixture
def account(slapd, ldap):
    """(dn, password): an active account past its first change."""
    conn = connect(**ldap)
    dn = f"uid=nvbinh,ou=accounts,{slapd.suffix}"
    password = _strong()
    attrs = {"uid": "nvbinh", "cn": "Nguyễn Văn Bình", "sn": "Nguyễn", "mail": WHO, "govmailManaged": "TRUE",
             "govmailState": "active", "govmailKind": "person", "userPassword": password}  # fmt: skip
    assert conn.add(dn, ["inetOrgPerson", "govmailAccount"], attrs), conn.result
    conn.unbind()
    with root(slapd) as conn:  # as after the forced change: no reset pending
        conn.modify(dn, {"pwdReset": [(MODIFY_REPLACE, [])]})
    backdate(slapd, WHO, dt.date.today() - dt.timedelta(days=2))  # and older than the minimum age
    return dn, password


def _config(slapd, **changes) -> Config:
    reader_dn, reader_pw = slapd.mailserver
    values = {"ldap_uri": slapd.uri, "base_dn": slapd.suffix, "reader_dn": reader_dn, "reader_pw": reader_pw,
              "secure_cookies": False, **changes}  # fmt: skip
    return Config(**values)


def test_it_refuses_to_start_without_certificate_verification(slapd, tmp_path):
    for changes in (
        {"ldap_uri": "ldaps://ldap.khanhhoa.gov.vn"},  # TLS without the directory's CA to check it against
        {"ldap_uri": "ldap://ldap.khanhhoa.gov.vn", "start_tls": True},
        {"ldap_uri": "ldap://ldap.khanhhoa.gov.vn", "start_tls": True, "ca_path": str(tmp_path / "missing.pem")},
        {"ldap_uri": "ldap://ldap.khanhhoa.gov.vn"},  # passwords in clear over the network
        {"reader_dn": None},  # nobody to read the state with: a suspended user could change
        {"reader_pw": ""},
    ):
        with pytest.raises(ValueError):
            PasswordPage(_config(slapd, **changes))
    PasswordPage(_config(slapd))  # the loopback, as in these tests, is allowed


def test_a_directory_with_an_untrusted_certificate_gets_no_password(slapd, account, tmp_path):
    """A man in the middle with a certificate the configured CA did not sign sees no bind."""
    trusted = certificate(tmp_path, "trusted")
    with Impostor(tmp_path) as impostor:
        page = PasswordPage(_config(slapd, ldap_uri=f"ldaps://127.0.0.1:{impostor.port}", ca_path=str(trusted)))
        _, password = account
        new = _strong()
        assert page.change(WHO, password, new, new, client="192.0.2.1")[1] == "unavailable"
    assert not any(impostor.received), "the page sent data to a server whose certificate it could not verify"


def test_the_host_ldap_configuration_cannot_turn_verification_off(slapd, account, tmp_path):
    """libldap reads LDAPTLS_* (and /etc/ldap/ldap.conf): even when they say "never verify" and trust
    the impostor's certificate, the page checks the directory against its own CA, and sends nothing."""
    trusted = certificate(tmp_path, "trusted")
    with Impostor(tmp_path) as impostor:
        script = (
            "import sys\n"
            "from govmail.password_page.app import Config, PasswordPage\n"
            f"page = PasswordPage(Config(ldap_uri='ldaps://127.0.0.1:{impostor.port}', base_dn={slapd.suffix!r},"
            f" ca_path={str(trusted)!r}, reader_dn='cn=mailserver,ou=services,{slapd.suffix}', reader_pw='x'))\n"
            "print(page.change('nvbinh@khanhhoa.gov.vn', 'Old#Pass1234', 'Kx7#new-Pass9', 'Kx7#new-Pass9', 'c')[1])\n"
        )
        env = {**os.environ, "LDAPTLS_REQCERT": "never", "LDAPTLS_CACERT": str(tmp_path / "impostor.pem")}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    assert done.stdout.strip() == "unavailable", done.stdout + done.stderr
    assert not any(impostor.received), "the page trusted the host's configuration over its own CA"


def test_the_page_fails_closed_when_its_reader_cannot_read(slapd, account):
    dn, password = account
    with root(slapd) as conn:
        assert conn.modify(dn, {"govmailState": [(MODIFY_REPLACE, ["suspended"])]}), conn.result
    new = _strong()
    # The reader's password is wrong (rotated, locked...): the suspended user's change is refused.
    broken = PasswordPage(_config(slapd, reader_pw="not-the-reader-password"))
    assert broken.change(WHO, password, new, new, client="192.0.2.1")[1] == "unavailable"
    # With a working reader the state is read and the change refused for what it is.
    assert PasswordPage(_config(slapd)).change(WHO, password, new, new, client="192.0.2.1")[1] == "suspended"
    assert user_bind(slapd, WHO, password).bound
    assert not user_bind(slapd, WHO, new).bound


def test_an_unknown_address_costs_a_real_bind_of_the_decoy(slapd, account):
    page = PasswordPage(_config(slapd))
    binds: list[tuple[str, bool]] = []
    original = page._connection

    def recording(dn, password):
        conn = original(dn, password)
        binds.append((dn, conn.bound))
        return conn

    page._connection = recording
    new = _strong()
    unknown = page.change("nobody@khanhhoa.gov.vn", _strong(), new, new, client="192.0.2.1")
    wrong = page.change(WHO, _strong(), new, new, client="192.0.2.1")
    assert unknown == wrong == (False, "bad_login", [])
    reader = slapd.mailserver[0]
    # Each answer: the reader's bind, then one failed bind against a stored password.
    assert binds == [(reader, True), (page.decoy_dn, False), (reader, True), (account[0], False)]
    # The decoy's password is hashed like the account's (the same scheme, so the same cost).
    with root(slapd) as conn:
        schemes = []
        for dn in (page.decoy_dn, account[0]):
            conn.search(dn, "(objectClass=*)", attributes=["userPassword"])
            value = conn.entries[0].entry_attributes_as_dict["userPassword"][0]
            schemes.append(value.split(b"}")[0] if isinstance(value, bytes) else value.split("}")[0])
    assert schemes[0] == schemes[1]


def test_someone_elses_failures_do_not_block_the_owner(slapd, account):
    page = PasswordPage(_config(slapd))
    _, password = account
    for _ in range(10):  # an attacker guessing from one address
        new = _strong()
        page.change(WHO, _strong(), new, new, client="203.0.113.66")
    new = _strong()
    assert page.change(WHO, password, new, new, client="203.0.113.66")[1] == "throttled"
    assert page.change(WHO, password, new, new, client="198.51.100.7")[:2] == (True, "done")
    assert user_bind(slapd, WHO, new).bound
