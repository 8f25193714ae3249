"""The role's limits let the provisioner read more entries than the global size limit (500)."""

import pytest
from ldap3 import MODIFY_REPLACE
from ldap3_client import connect as ldap3_connect

from govmail.directory.layout import Layout, read_managed
from govmail.directory.ldap_client import Directory, connect
from govmail.directory.run import read_directory

pytestmark = pytest.mark.integration


def _add_managed(slapd, layout: Layout, count: int) -> None:
    """``count`` managed entries, written as root (no limit applies to the writes)."""
    root = ldap3_connect(server_uri=slapd.ldapi)
    for i in range(count):
        address = f"n{i}@khanhhoa.gov.vn"
        attrs = {"cn": f"N{i}", "sn": "N", "mail": address, "govmailState": "active", "govmailManaged": "TRUE"}
        assert root.add(layout.dn(address), ["inetOrgPerson", "govmailAccount"], attrs), root.result


def test_a_paged_read_sees_every_account_beyond_the_size_limit(slapd, ldap, tmp_path):
    layout = Layout(slapd.suffix)
    _add_managed(slapd, layout, 650)
    assert len(read_managed(Directory.open(ldap), layout)) == 650
    assert len(read_directory(ldap, str(tmp_path / "accounts"))[2]) == 650  # RFC 4533, no cookie yet
    assert len(read_directory(ldap, str(tmp_path / "accounts"))[2]) == 650  # with the cookie
    assert len(read_managed(connect(**ldap), layout)) == 650
    # the mail server (doveadm -A) and root over ldapi (adopting a running directory) too
    mailserver = connect(server_uri=slapd.uri, bind_dn=slapd.mailserver[0], bind_pw=slapd.mailserver[1])
    assert len(read_managed(mailserver, layout)) == 650
    assert len(read_managed(connect(server_uri=slapd.ldapi), layout)) == 650


def test_a_read_cut_by_a_limit_is_an_error_not_a_smaller_tree(slapd, ldap, tmp_path):
    root = ldap3_connect(server_uri=slapd.ldapi)
    layout = Layout(slapd.suffix)
    _add_managed(slapd, layout, 30)
    # The provisioner loses its exemption: its reads are cut at 10 entries.
    config = "olcDatabase={1}mdb,cn=config"
    assert root.modify(config, {"olcLimits": [(MODIFY_REPLACE, [f'dn.exact="{ldap["bind_dn"]}" size=10'])]}), (
        root.result
    )
    with pytest.raises(RuntimeError, match="sizeLimitExceeded"):
        read_managed(Directory.open(ldap), layout)
    with pytest.raises(RuntimeError, match="sizeLimitExceeded"):  # the sync read, then its paged fallback
        read_directory(ldap, str(tmp_path / "accounts"))
    with pytest.raises(RuntimeError, match="sizeLimitExceeded"):
        read_managed(connect(**ldap), layout)
