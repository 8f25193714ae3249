"""`govmail plan --ldap` and `govmail import --ldap` against a real slapd."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ldap3_client import connect

from govmail.directory.run import converge

pytestmark = pytest.mark.integration
GOVMAIL = str(Path(sys.executable).with_name("govmail"))


def _govmail(*args, env=None):
    import os

    return subprocess.run(
        [GOVMAIL, *args], capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **(env or {})}
    )


def test_plan_against_the_live_directory_with_credentials_from_the_environment(tree, ldap, age_key, tmp_path):
    from govmail.directory.run import Delivery

    converge(str(tree), ldap, delivery=Delivery(age_recipients=[age_key[1]], age_dir=str(tmp_path)))
    skhcn = tree / "departments/skhcn.yaml"
    skhcn.write_text(
        skhcn.read_text(encoding="utf-8").replace("title: Trưởng phòng", "title: Phó Giám đốc"), encoding="utf-8"
    )
    pw_file = tmp_path / "pw"
    pw_file.write_text(ldap["bind_pw"] + "\n")
    env = {"GOVMAIL_LDAP_BIND_DN": ldap["bind_dn"], "GOVMAIL_LDAP_BIND_PW_FILE": str(pw_file)}
    result = _govmail("plan", str(tree), "--ldap", ldap["server_uri"], "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(c["op"], c["address"], c["changes"]) for c in data["changes"]] == [
        ("update", "nvbinh@khanhhoa.gov.vn", {"title": ["Trưởng phòng", "Phó Giám đốc"]})
    ]
    md = _govmail("plan", str(tree), "--ldap", ldap["server_uri"], "--format", "markdown", env=env).stdout
    assert (
        "| update | `nvbinh@khanhhoa.gov.vn` | person | `skhcn/ppc` | `Nguyễn Văn Bình` | `title: 'Trưởng phòng' → 'Phó Giám đốc'` |"
        in md
    )
    assert ldap["bind_pw"] not in result.stdout + result.stderr + md

    wrong = _govmail(
        "plan",
        str(tree),
        "--ldap",
        ldap["server_uri"],
        env={**env, "GOVMAIL_LDAP_BIND_PW_FILE": "", "GOVMAIL_LDAP_BIND_PW": "nope"},
    )
    assert wrong.returncode == 1
    assert "refused" in wrong.stderr and "invalidCredentials" in wrong.stderr


def test_import_from_a_directory_then_adopt(slapd, tmp_path):
    root = connect(server_uri=slapd.ldapi)
    root.add(f"ou=legacy,{slapd.suffix}", ["organizationalUnit"], {"ou": "legacy"})
    people = [
        ("Nguyễn Văn Bình", "binh@khanhhoa.gov.vn", "Sở Khoa học và Công nghệ"),
        ("Lê Thị Hoa", "hoa.le@khanhhoa.gov.vn", "Sở Khoa học và Công nghệ"),
        ("Trần Văn Nam", "tvnam@khanhhoa.gov.vn", "Sở Y tế"),
    ]
    for name, mail, ou in people:
        root.add(
            f"mail={mail},ou=legacy,{slapd.suffix}",
            ["inetOrgPerson"],
            {
                "cn": name,
                "sn": name.split()[0],
                "mail": mail,
                "ou": ou,
                "title": "Chuyên viên",
                "userPassword": "Legacy#Pass1",
            },
        )
    out = tmp_path / "accounts"
    result = _govmail("import", "--ldap", slapd.ldapi, "--base-dn", slapd.suffix, "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["province.yaml", "sokhoahocvacongnghe.yaml", "soyte.yaml"]
    assert _govmail("validate", str(out)).returncode == 0
    assert _govmail("allocate", str(out), "--check").returncode == 0

    report = converge(str(out), {"server_uri": slapd.ldapi, "base_dn": slapd.suffix})
    assert sorted((c["op"], c["address"], c["result"]) for c in report["changes"]) == [
        ("adopt", "binh@khanhhoa.gov.vn", "ok"),
        ("adopt", "hoa.le@khanhhoa.gov.vn", "ok"),
        ("adopt", "tvnam@khanhhoa.gov.vn", "ok"),
    ]
    # Nobody was renamed and nobody lost their password.
    user = connect(server_uri=slapd.uri, bind_dn=f"uid=hoa.le,ou=accounts,{slapd.suffix}", bind_pw="Legacy#Pass1")
    assert user.bound
