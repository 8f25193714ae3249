"""A throwaway, real slapd for integration tests and the benchmark.

Built from the slapd role's own schema template and ACL defaults (so tests exercise the rules
production runs), in a temporary directory, listening on 127.0.0.1 and a private ldapi socket.
Credentials are generated per run and live only in memory and in the temporary directory.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import jinja2
import pwcheck
import yaml
from ldap3 import EXTERNAL, MODIFY_REPLACE, SASL, Connection, Server

try:
    from govmail.directory import views
except ImportError:  # run from a checkout without the package installed
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "module_utils"))
    from govmail.directory import views

REPO = Path(__file__).resolve().parent.parent
ROLE = REPO / "roles" / "slapd"
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SUFFIX = "dc=khanhhoa,dc=gov,dc=vn"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _role_context(suffix: str) -> dict:
    """The role's DIT and identity variables, resolved for this suffix."""
    services = f"ou=services,{suffix}"
    return {
        "slapd__suffix": suffix,
        "slapd__accounts_dn": f"ou=accounts,{suffix}",
        "slapd__revoked_dn": f"ou=revoked,{suffix}",
        "slapd__services_dn": services,
        "slapd__policies_dn": f"ou=policies,{suffix}",
        "slapd__provisioner_dn": f"cn=provisioner,{services}",
        "slapd__mailserver_dn": f"cn=mailserver,{services}",
        "slapd__replicator_dn": f"cn=replicator,{services}",
        "slapd__root_peercred_dn": f"gidNumber={os.getgid()}+uidNumber={os.getuid()},cn=peercred,cn=external,cn=auth",
        "slapd__govmail_oid_arc": "1.3.6.1.4.1.99999.1",
        "ansible_managed": "rendered by tests/slapd_server.py",
    }


def _ldif_attrs(name: str, values: dict) -> str:
    return "".join(f"{k}: {v}\n" for k, v in values.items())


class ThrowawaySlapd:
    """``with ThrowawaySlapd() as ldap:`` — a running slapd; ``ldap.uri``, ``ldap.provisioner`` …"""

    def __init__(
        self,
        suffix: str = SUFFIX,
        password_hash: str = "{SSHA}",
        ppolicy: bool = True,
        policy_overrides=None,
        syncprov: bool = True,
        readers: dict | None = None,
    ):
        self.suffix = suffix
        self.policy_overrides = policy_overrides or {}  # {"default": {"pwdMinAge": 0}}: a test's own policy
        self.syncprov = syncprov  # RFC 4533 provider, as the slapd role configures it
        self.password_hash = password_hash
        self.ppolicy = ppolicy
        self.dir = Path(tempfile.mkdtemp(prefix="govmail-slapd-"))
        self.port = _free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.socket = self.dir / "ldapi"
        self.ldapi = "ldapi://" + urllib.parse.quote(str(self.socket), safe="")
        ctx = _role_context(suffix)
        self.provisioner = (ctx["slapd__provisioner_dn"], secrets.token_urlsafe(24))
        self.mailserver = (ctx["slapd__mailserver_dn"], secrets.token_urlsafe(24))
        # The role's timing decoy for the password page (its password is hashed once slapd runs).
        self.decoy = (f"cn=decoy,{ctx['slapd__services_dn']}", secrets.token_urlsafe(24))
        self.ctx = ctx
        # Read-only identities of other systems (slapd__readers): name → view; dn and password each.
        self.reader_views = dict(readers or {})
        self.readers = {
            name: (f"cn={name},{ctx['slapd__services_dn']}", secrets.token_urlsafe(24)) for name in self.reader_views
        }
        self.process: subprocess.Popen | None = None

    # -- configuration ------------------------------------------------------------------
    def _config_ldif(self) -> str:
        ctx = self.ctx
        defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
        env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        acls = [env.from_string(a).render(ctx) for a in defaults["slapd__acl"]]
        readers = [{"name": name, "view": view} for name, view in self.reader_views.items()]
        acls = (
            views.view_acls(defaults["slapd__views"], readers, ctx["slapd__accounts_dn"], ctx["slapd__services_dn"])
            + acls
        )
        schema = env.from_string((ROLE / "templates/etc/ldap/schema/govmail.ldif.j2").read_text("utf-8")).render(ctx)
        (self.dir / "govmail.ldif").write_text(schema.rstrip("\n") + "\n\n", encoding="utf-8")
        modules = (
            ["back_mdb", "unique"] + (["ppolicy"] if self.ppolicy else []) + (["syncprov"] if self.syncprov else [])
        )
        out = f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {self.dir}/slapd.pid

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
""" + "".join(f"olcModuleLoad: {m}\n" for m in modules)
        out += f"""
dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

include: file://{self.dir}/govmail.ldif

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcPasswordHash: {self.password_hash}

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by dn.exact="{ctx["slapd__root_peercred_dn"]}" manage by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {self.suffix}
olcRootDN: cn=admin,{self.suffix}
olcDbDirectory: {self.dir}/db
olcDbMaxSize: 8589934592
olcDbNoSync: TRUE
olcLastBind: TRUE
olcSizeLimit: 500
"""
        indexes = ["objectClass eq", "uid eq", "mail eq", "govmailAlias eq", "govmailState eq", "govmailManaged eq"]
        for index in indexes + (["entryCSN eq", "entryUUID eq"] if self.syncprov else []):
            out += f"olcDbIndex: {index}\n"
        for number, acl in enumerate(acls):
            out += f"olcAccess: {{{number}}}{acl}\n"
        for number, limit in enumerate(defaults["slapd__limits"]):  # the role's, as production has them
            out += f"olcLimits: {{{number}}}{env.from_string(limit).render(ctx)}\n"
        if self.ppolicy:
            out += f"""
dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
olcPPolicyDefault: cn=default,{ctx["slapd__policies_dn"]}
olcPPolicyHashCleartext: TRUE
"""
        out += """
dn: olcOverlay={1}unique,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcUniqueConfig
olcOverlay: {1}unique
""" + "".join(f"olcUniqueURI: ldap:///{self.suffix}?{a}?sub\n" for a in ("mail", "govmailAlias", "uid"))
        if self.syncprov:  # the slapd role's content-synchronisation overlay (slapd__syncprov_*)
            out += """
dn: olcOverlay={2}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {2}syncprov
olcSpCheckpoint: 100 10
olcSpSessionlog: 10000
"""
        return out

    def _base_ldif(self) -> str:
        ctx = self.ctx
        dc = self.suffix.split(",")[0].split("=")[1]
        out = f"dn: {self.suffix}\nobjectClass: dcObject\nobjectClass: organization\ndc: {dc}\no: govmail test\n\n"
        for ou in ("accounts", "revoked", "services", "policies"):
            out += f"dn: ou={ou},{self.suffix}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
        if self.ppolicy:
            defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
            for name, key in (("default", "slapd__ppolicy_default"), ("services", "slapd__ppolicy_services")):
                attrs = dict(defaults[key])
                out += f"dn: cn={name},{ctx['slapd__policies_dn']}\nobjectClass: organizationalRole\n"
                if "pwdCheckModule" in attrs:  # the role's R6.2 module, built from its source
                    attrs["pwdCheckModule"] = str(pwcheck.build())
                    out += "objectClass: pwdPolicyChecker\n"
                attrs.update(self.policy_overrides.get(name, {}))
                out += f"objectClass: pwdPolicy\ncn: {name}\npwdAttribute: userPassword\n"
                out += _ldif_attrs(name, attrs) + "\n"
        for dn, password in (self.provisioner, self.mailserver, self.decoy, *self.readers.values()):
            cn = dn.split(",")[0].split("=")[1]
            out += f"dn: {dn}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: {cn}\n"
            out += f"userPassword: {password}\n"
            if self.ppolicy:
                out += f"pwdPolicySubentry: cn=services,{ctx['slapd__policies_dn']}\n"
            out += "\n"
        return out

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> ThrowawaySlapd:
        config = self.dir / "slapd.d"
        config.mkdir()
        (self.dir / "db").mkdir()
        (self.dir / "config.ldif").write_text(self._config_ldif(), encoding="utf-8")
        (self.dir / "base.ldif").write_text(self._base_ldif(), encoding="utf-8")
        subprocess.run(
            ["slapadd", "-n0", "-F", str(config), "-l", str(self.dir / "config.ldif")], check=True, capture_output=True
        )
        subprocess.run(
            ["slapadd", "-n1", "-F", str(config), "-l", str(self.dir / "base.ldif")], check=True, capture_output=True
        )
        self.process = subprocess.Popen(
            [SLAPD, "-d", "0", "-F", str(config), "-h", f"{self.uri}/ {self.ldapi}"],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "slapd.log", "wb"),  # noqa: SIM115 — lives as long as the server
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    self._hash_decoy()
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        "slapd exited: " + (self.dir / "slapd.log").read_text(errors="replace")
                    ) from None
                time.sleep(0.05)
        raise RuntimeError("slapd did not start listening")

    def _hash_decoy(self) -> None:
        """Set the decoy's password through slapd, so it is hashed as the role's (olcPasswordHash)."""
        conn = Connection(Server(self.ldapi), authentication=SASL, sasl_mechanism=EXTERNAL, sasl_credentials="")
        with conn:
            ok = conn.modify(self.decoy[0], {"userPassword": [(MODIFY_REPLACE, [secrets.token_urlsafe(24)])]})
            if not ok:
                raise RuntimeError(f"decoy password: {conn.result}")

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self._relaunch()

    def set_context_csn(self, csn: str) -> None:
        """Stop the server, set the suffix's contextCSN (syncprov's newest change) to ``csn`` by
        slapmodify, and start again: the state syncprov is in when its contextCSN stays behind."""
        self.kill()
        ldif = f"dn: {self.suffix}\nchangetype: modify\nreplace: contextCSN\ncontextCSN: {csn}\n-\n"
        subprocess.run(
            ["slapmodify", "-n1", "-F", str(self.dir / "slapd.d")], input=ldif.encode(), check=True, capture_output=True
        )
        self._relaunch()

    def _relaunch(self) -> None:
        self.process = subprocess.Popen(
            [SLAPD, "-d", "0", "-F", str(self.dir / "slapd.d"), "-h", f"{self.uri}/ {self.ldapi}"],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "slapd.log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not come back")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ThrowawaySlapd:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
