"""Convergence against a real slapd (the role's schema, ACLs and password policy): every directory-side operation."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE
from ldap3_client import connect
from lifecycle_helpers import RELAX

from govmail.directory import run as run_module
from govmail.directory.converge import Guards, GuardTripped
from govmail.directory.layout import Layout, read_managed
from govmail.directory.ldap_client import Directory, LdapError
from govmail.directory.plan import VIA_SUPPORT, Change, file_token, is_pending
from govmail.directory.render import plan_markdown
from govmail.directory.run import Delivery, converge, followups
from govmail.model import passwords
from govmail.model.problems import InvalidTree

pytestmark = pytest.mark.integration


def _delivery(age_key, tmp_path):
    return Delivery(age_recipients=[age_key[1]], age_dir=str(tmp_path / "out"))


def _decrypt(age_key, path) -> str:
    return subprocess.run(
        ["age", "--decrypt", "-i", str(age_key[0]), path], check=True, capture_output=True, text=True
    ).stdout


def _live(ldap):
    with Directory.open(ldap) as directory:
        return {a["address"]: a for a in read_managed(directory, Layout(ldap["base_dn"]))}


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_check_mode_plans_and_writes_nothing(tree, ldap):
    report = converge(str(tree), ldap, check_mode=True)
    assert report["summary"]["by_op"] == {"create": 34}
    assert {c["result"] for c in report["changes"]} == {"planned"}
    assert _live(ldap) == {}


def test_create_delivers_passwords_that_work_and_never_appear_in_the_report(tree, ldap, slapd, age_key, tmp_path):
    report_path = tmp_path / "report.json"
    report = converge(
        str(tree), ldap, delivery=_delivery(age_key, tmp_path), report_path=str(report_path), commit="abc123"
    )
    assert report["failed"] == 0
    assert report["summary"]["by_op"] == {"create": 34}
    live = _live(ldap)
    assert len(live) == 34
    # delivered, to the support mailbox: the unit's own mailbox is new (nobody can read it yet), so the
    # entry is marked for a second delivery once it can (docs/passwords.md)
    assert live["nvbinh@khanhhoa.gov.vn"]["reset"] == VIA_SUPPORT and file_token(VIA_SUPPORT) is None
    [notice] = report["notified"]
    assert notice["channel"] == "age" and notice["error"] is None
    clear = _decrypt(age_key, notice["to"])
    found = dict(re.findall(r"• (\S+@khanhhoa\.gov\.vn)\n.*\n    Mật khẩu khởi tạo / initial password: (\S+)", clear))
    assert set(found) == set(live)
    # The delivered password is the one the directory holds, and it is pending a forced change (R6.1).
    user_dn = Layout(ldap["base_dn"]).dn("nvbinh@khanhhoa.gov.vn")
    user = connect(server_uri=slapd.uri, bind_dn=user_dn, bind_pw=found["nvbinh@khanhhoa.gov.vn"])
    assert user.bound
    # Until it is changed, ppolicy lets the user do nothing else: not even read their own entry.
    user.search(user_dn, "(objectClass=*)", attributes=["cn"])
    assert user.entries == []
    root = connect(server_uri=slapd.ldapi)
    root.search(user_dn, "(objectClass=*)", attributes=["pwdReset"])
    assert root.entries[0].pwdReset.value == "TRUE"
    for password in found.values():
        assert not passwords.quality_problems(password)
    written = report_path.read_text(encoding="utf-8")
    assert json.loads(written)["commit"] == "abc123"
    for password in found.values():
        assert password not in written
        assert password not in json.dumps(report)


def test_second_apply_is_a_noop(tree, ldap, age_key, tmp_path):
    converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    again = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    assert again["changes"] == []
    assert again["notified"] == []


def test_every_lifecycle_operation(tree, ldap, age_key, tmp_path):
    converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    skhcn = tree / "departments/skhcn.yaml"
    # change info; reset; suspend; revoke; and a move of Đặng Thu Hà from Sở Y tế to Sở KH&CN.
    _edit(skhcn, "    title: Trưởng phòng\n", "    title: Phó Giám đốc\n    reset: '2026-11-20'\n")
    _edit(
        skhcn,
        "    address: nvhung.skhcn@khanhhoa.gov.vn\n",
        "    address: nvhung.skhcn@khanhhoa.gov.vn\n    status: suspended\n    reason: compromised mật khẩu lộ\n    since: 2026-11-25\n",
    )
    _edit(
        skhcn,
        "    address: pqhuy@khanhhoa.gov.vn\n",
        "    address: pqhuy@khanhhoa.gov.vn\n    status: revoked\n    reason: retired\n    since: 2026-11-26\n",
    )
    syt = tree / "departments/syt.yaml"
    _edit(
        syt,
        "  - name: Đặng Thu Hà\n    title: Trưởng phòng Tổ chức – Tài chính\n    unit: ttytkvprtc/ptctc\n    address: dtha@khanhhoa.gov.vn\n",
        "",
    )
    skhcn.write_text(
        skhcn.read_text(encoding="utf-8")
        + "  - name: Đặng Thu Hà\n    title: Chuyên viên\n    unit: ppc\n    address: dtha@khanhhoa.gov.vn\n",
        encoding="utf-8",
    )

    plan = converge(str(tree), ldap, check_mode=True)
    ops = sorted((c["op"], c["address"]) for c in plan["changes"])
    assert ops == [
        ("move", "dtha@khanhhoa.gov.vn"),
        ("reset", "nvbinh@khanhhoa.gov.vn"),
        ("revoke", "pqhuy@khanhhoa.gov.vn"),
        ("suspend", "nvhung.skhcn@khanhhoa.gov.vn"),
        ("update", "dtha@khanhhoa.gov.vn"),
        ("update", "nvbinh@khanhhoa.gov.vn"),
    ]
    assert followups(plan) == {
        "revoking": ["pqhuy@khanhhoa.gov.vn"],
        "revoking_on": {"*": ["pqhuy@khanhhoa.gov.vn"]},  # no mail backends here: every mail host archives
        "kick": ["nvbinh@khanhhoa.gov.vn", "nvhung.skhcn@khanhhoa.gov.vn", "pqhuy@khanhhoa.gov.vn"],
    }
    move = next(c for c in plan["changes"] if c["op"] == "move")
    assert move["changes"] == {"org": ["syt", "skhcn"], "unit": ["ttytkvprtc/ptctc", "ppc"]}

    # Without a verified archive the revoke is refused; everything else is applied.
    report = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    [failed] = [c for c in report["changes"] if c["result"] == "failed"]
    assert failed["address"] == "pqhuy@khanhhoa.gov.vn" and "no verified mailbox archive" in failed["error"]
    live = _live(ldap)
    assert live["pqhuy@khanhhoa.gov.vn"]["status"] == "active"
    assert live["nvhung.skhcn@khanhhoa.gov.vn"]["status"] == "suspended"
    assert live["nvhung.skhcn@khanhhoa.gov.vn"]["reason"] == "compromised mật khẩu lộ"
    assert live["nvhung.skhcn@khanhhoa.gov.vn"]["since"] == "2026-11-25"
    assert live["nvbinh@khanhhoa.gov.vn"]["title"] == "Phó Giám đốc"
    assert file_token(live["nvbinh@khanhhoa.gov.vn"]["reset"]) == "2026-11-20"
    assert (live["dtha@khanhhoa.gov.vn"]["org"], live["dtha@khanhhoa.gov.vn"]["unit"]) == ("skhcn", "ppc")

    archive = {"address": "pqhuy@khanhhoa.gov.vn", "path": "/x.tar.gz", "sha256": "0" * 64, "verified": True}
    report = converge(str(tree), ldap, archives=[archive])
    assert [(c["op"], c["result"]) for c in report["changes"]] == [("revoke", "ok")]
    assert report["archives"] == [archive]
    live = _live(ldap)
    assert live["pqhuy@khanhhoa.gov.vn"]["status"] == "revoked"
    assert live["pqhuy@khanhhoa.gov.vn"]["dn"].startswith("uid=pqhuy,ou=revoked,")

    # Restore (R8.3) and nothing left to do.
    _edit(skhcn, "    status: suspended\n    reason: compromised mật khẩu lộ\n    since: 2026-11-25\n", "")
    report = converge(str(tree), ldap)
    assert [(c["op"], c["address"]) for c in report["changes"]] == [("restore", "nvhung.skhcn@khanhhoa.gov.vn")]
    assert converge(str(tree), ldap)["changes"] == []


def test_removal_guard_stops_before_any_write(tree, ldap, age_key, tmp_path):
    converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    ninhphuoc = tree / "communes/ninhphuoc.yaml"
    text = ninhphuoc.read_text(encoding="utf-8")
    text = re.sub(
        r"(    address: \S+\n)", r"\1    status: revoked\n    reason: resigned\n    since: 2026-11-01\n", text
    )
    ninhphuoc.write_text(text, encoding="utf-8")
    before = _live(ldap)
    with pytest.raises(GuardTripped, match=r"ninhphuoc: 3 of its 6 accounts would go \(50% > 25%\)"):
        converge(str(tree), ldap, guards=Guards(max_removals=10, max_removal_share=0.25))
    with pytest.raises(GuardTripped, match=r"3 accounts would be revoked or removed \(limit 2\)"):
        converge(str(tree), ldap, guards=Guards(max_removals=2, max_removal_share=1.0))
    assert _live(ldap) == before
    archives = [
        {"address": a, "verified": True}
        for a in ("nvhung@khanhhoa.gov.vn", "hdanh@khanhhoa.gov.vn", "ttlan@khanhhoa.gov.vn")
    ]
    report = converge(str(tree), ldap, guards=Guards(override=True), archives=archives)
    assert sorted(c["address"] for c in report["changes"] if c["result"] == "ok") == sorted(
        a["address"] for a in archives
    )


def test_drift_is_reported_and_untouched_unless_asked(tree, ldap, slapd, age_key, tmp_path):
    converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    root = connect(server_uri=slapd.ldapi)
    layout = Layout(slapd.suffix)
    root.add(
        layout.dn("lost@khanhhoa.gov.vn"),
        ["inetOrgPerson", "govmailAccount"],
        {
            "cn": "Lost",
            "sn": "Lost",
            "mail": "lost@khanhhoa.gov.vn",
            "govmailState": "active",
            "govmailManaged": "TRUE",
        },
    )
    root.add(
        layout.dn("legacy@khanhhoa.gov.vn"),
        ["inetOrgPerson"],
        {"cn": "Legacy", "sn": "L", "mail": "legacy@khanhhoa.gov.vn"},
    )
    report = converge(str(tree), ldap)
    assert [(c["op"], c["address"], c["result"]) for c in report["changes"]] == [
        ("drift", "lost@khanhhoa.gov.vn", "reported")
    ]
    assert followups(report)["revoking"] == []
    assert _live(ldap)["lost@khanhhoa.gov.vn"]["status"] == "active"
    report = converge(
        str(tree), ldap, remove_drift=True, archives=[{"address": "lost@khanhhoa.gov.vn", "verified": True}]
    )
    assert [(c["op"], c["result"]) for c in report["changes"]] == [("drift", "ok")]
    assert _live(ldap)["lost@khanhhoa.gov.vn"]["status"] == "revoked"
    # The unmanaged entry was never read as govmail's, and is still there, unchanged.
    root.search(layout.dn("legacy@khanhhoa.gov.vn"), "(objectClass=*)", attributes=["cn"])
    assert root.entries[0].cn.value == "Legacy"


def test_a_refused_entry_does_not_stop_the_others(tree, ldap, slapd, age_key, tmp_path):
    # A foreign entry already sits at ttlan@'s DN (with another address): that create is refused.
    root = connect(server_uri=slapd.ldapi)
    root.add(f"uid=ttlan,ou=accounts,{slapd.suffix}", ["inetOrgPerson"], {"cn": "Someone else", "sn": "Else"})
    report = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    failed = [c for c in report["changes"] if c["result"] == "failed"]
    assert [c["address"] for c in failed] == ["ttlan@khanhhoa.gov.vn"]
    assert "entryAlreadyExists" in failed[0]["error"]
    assert len(_live(ldap)) == 33


def test_an_existing_mailbox_is_adopted_in_place_and_keeps_its_password(tree, ldap, slapd, age_key, tmp_path):
    root = connect(server_uri=slapd.ldapi)
    root.add(f"ou=legacy,{slapd.suffix}", ["organizationalUnit"], {"ou": "legacy"})
    old_dn = f"cn=Nguyen Van Binh,ou=legacy,{slapd.suffix}"
    root.add(
        old_dn,
        ["inetOrgPerson"],
        {"cn": "Nguyen Van Binh", "sn": "Nguyen", "mail": "nvbinh@khanhhoa.gov.vn", "userPassword": "Old-Pass#2024"},
    )
    # A legacy directory without ppolicy: the password carries no age (no pwdChangedTime).
    assert root.modify(old_dn, {"pwdChangedTime": [(MODIFY_DELETE, [])]}, controls=RELAX), root.result
    # Taking over a legacy tree needs an identity that may read and move it: root on the directory
    # host (SASL EXTERNAL over ldapi), as the migration runbook in docs/convergence.md says.
    ldap = {**ldap, "server_uri": slapd.ldapi, "bind_dn": None, "bind_pw": ""}
    plan = converge(str(tree), ldap, check_mode=True)
    assert [c["op"] for c in plan["changes"] if c["address"] == "nvbinh@khanhhoa.gov.vn"] == ["adopt"]
    report = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    assert [c for c in report["changes"] if c["result"] == "failed"] == []
    entry = _live(ldap)["nvbinh@khanhhoa.gov.vn"]
    assert entry["dn"] == f"uid=nvbinh,ou=accounts,{slapd.suffix}" and entry["name"] == "Nguyễn Văn Bình"
    assert "nvbinh@khanhhoa.gov.vn" not in _decrypt(age_key, report["notified"][0]["to"])  # no new password
    user = connect(server_uri=slapd.uri, bind_dn=entry["dn"], bind_pw="Old-Pass#2024")
    assert user.bound
    # Its password had no age (no pwdChangedTime): it must be changed at the next sign-in, and
    # until then the directory allows nothing else (so neither IMAP nor SMTP logs in).
    assert not user.search(entry["dn"], "(objectClass=*)", attributes=["cn"])
    root.search(entry["dn"], "(objectClass=*)", attributes=["pwdReset"])
    assert root.entries[0].entry_attributes_as_dict["pwdReset"] in ([True], ["TRUE"])
    assert user.extend.standard.modify_password(entry["dn"], "Old-Pass#2024", "New-Pass#2025x"), user.result
    user = connect(server_uri=slapd.uri, bind_dn=entry["dn"], bind_pw="New-Pass#2025x")
    assert user.search(entry["dn"], "(objectClass=*)", attributes=["cn"])
    assert converge(str(tree), ldap)["changes"] == []
    assert "must be changed at the next sign-in" in plan_markdown(
        [Change("adopt", "x@y", "person", "a", None, "X", "active")]
    )

    # A takeover that stopped after marking the entry (before the rename) is finished by the next run.
    root.add(
        f"cn=Le Minh Tam,ou=legacy,{slapd.suffix}",
        ["inetOrgPerson", "govmailAccount"],
        {
            "cn": "Le Minh Tam",
            "sn": "Le",
            "mail": "lmtam2@khanhhoa.gov.vn",
            "govmailManaged": "TRUE",
            "govmailState": "active",
        },
    )
    suoihiep = tree / "communes/suoihiep.yaml"
    suoihiep.write_text(
        suoihiep.read_text(encoding="utf-8")
        + "  - name: Lê Minh Tâm\n    title: Văn thư\n    address: lmtam2@khanhhoa.gov.vn\n",
        encoding="utf-8",
    )
    report = converge(str(tree), ldap)
    assert [(c["op"], c["result"]) for c in report["changes"]] == [("adopt", "ok")]
    assert _live(ldap)["lmtam2@khanhhoa.gov.vn"]["dn"] == f"uid=lmtam2,ou=accounts,{slapd.suffix}"


def test_killed_server_mid_apply_then_rerun_converges_exactly(tree, ldap, slapd, age_key, tmp_path, monkeypatch):
    sent = []
    real_send = Directory.send

    def dying_send(directory, request):
        sent.append(1)
        if len(sent) == 11:  # ten or so accounts reached the server
            slapd.kill()
        return real_send(directory, request)

    monkeypatch.setattr(Directory, "send", dying_send)
    report = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    monkeypatch.undo()
    assert report["failed"] > 0 and len([c for c in report["changes"] if c["result"] == "ok"]) <= 10

    slapd.restart()
    with pytest.raises(LdapError):
        converge(str(tree), {**ldap, "bind_pw": "wrong"})
    survivors = _live(ldap)
    # Whatever the server kept is flagged: its password was not confirmed delivered.
    assert all(is_pending(a["reset"]) for a in survivors.values())
    report = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    assert report["failed"] == 0
    ops = sorted((c["op"], c["address"]) for c in report["changes"])
    assert [a for op, a in ops if op == "reset"] == sorted(survivors)
    assert len([a for op, a in ops if op == "create"]) == 34 - len(survivors)
    live = _live(ldap)
    assert len(live) == 34 and all(file_token(a["reset"]) is None for a in live.values())
    assert converge(str(tree), ldap)["changes"] == []


def test_user_cannot_set_a_weak_password_but_provisioner_cannot_read_passwords_back(
    tree, ldap, slapd, age_key, tmp_path
):
    report = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    clear = _decrypt(age_key, report["notified"][0]["to"])
    password = re.search(r"nvbinh@khanhhoa\.gov\.vn\n.*\n.*password: (\S+)", clear)[1]
    dn = Layout(slapd.suffix).dn("nvbinh@khanhhoa.gov.vn")
    user = connect(server_uri=slapd.uri, bind_dn=dn, bind_pw=password)
    assert not user.modify(dn, {"userPassword": [(MODIFY_REPLACE, ["abc"])]})
    assert user.result["description"] == "insufficientAccessRights"  # pwdSafeModify: the old password first
    assert not user.modify(dn, {"userPassword": [(MODIFY_DELETE, [password]), (MODIFY_ADD, ["abc"])]})
    assert user.result["description"] == "constraintViolation"
    provisioner = connect(**ldap)
    provisioner.search(dn, "(objectClass=*)", attributes=["userPassword"])
    assert provisioner.entries[0].entry_attributes_as_dict.get("userPassword", []) == []


def test_a_notice_waits_for_a_readable_unit_mailbox_then_goes_there(tree, ldap, slapd, age_key, tmp_path):
    """Issue 11 §1: people's initial passwords go to the support mailbox while their unit's mailbox is
    new (pwdReset), and once the unit has changed its own password they are issued again to it."""
    from ldap3 import MODIFY_DELETE

    report = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    assert report["failed"] == 0
    live = _live(ldap)
    assert live["nvbinh@khanhhoa.gov.vn"]["reset"] == VIA_SUPPORT
    assert live["skhcn@khanhhoa.gov.vn"]["reset"] is None  # a unit's own password goes to support anyway
    # nothing changes while the unit mailbox still has its initial password
    assert converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))["changes"] == []
    # skhcn@ changes its initial password (the directory clears pwdReset)
    root = connect(server_uri=slapd.ldapi)
    assert root.modify(Layout(ldap["base_dn"]).dn("skhcn@khanhhoa.gov.vn"), {"pwdReset": [(MODIFY_DELETE, [])]})
    plan_only = converge(str(tree), ldap, check_mode=True)
    skhcn_people = sorted(a for a, e in live.items() if e["org"] == "skhcn" and e["kind"] in ("person", "unit"))
    assert sorted(c["address"] for c in plan_only["changes"]) == skhcn_people
    assert {c["op"] for c in plan_only["changes"]} == {"reset"}
    report = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    assert report["failed"] == 0 and sorted(c["address"] for c in report["changes"]) == skhcn_people
    clear = _decrypt(age_key, report["notified"][0]["to"])
    assert "nvbinh@khanhhoa.gov.vn" in clear
    after = _live(ldap)
    assert all(after[a]["reset"] is None for a in skhcn_people)  # delivered where they belong: no mark left
    assert after["nvhung@khanhhoa.gov.vn"]["reset"] == VIA_SUPPORT  # ninhphuoc's UBND mailbox: still new
    assert converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))["changes"] == []


def test_a_revoke_refused_for_want_of_an_archive_writes_nothing_even_with_other_changes(tree, ldap, age_key, tmp_path):
    """Attack: one commit revokes an account and changes its title; the pipelined update must not write
    govmailState=revoked (mail would bounce) while the revoke itself is refused for want of an archive."""
    converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    skhcn = tree / "departments/skhcn.yaml"
    text = skhcn.read_text(encoding="utf-8")
    block = text[text.index("    address: pqhuy@khanhhoa.gov.vn\n") - 200 :]
    title = next(line for line in block.splitlines() if line.startswith("    title: "))
    _edit(skhcn, title + "\n", "    title: Chuyên viên chính\n")
    _edit(
        skhcn,
        "    address: pqhuy@khanhhoa.gov.vn\n",
        "    address: pqhuy@khanhhoa.gov.vn\n    status: revoked\n    reason: retired\n    since: 2026-11-26\n",
    )
    before = _live(ldap)["pqhuy@khanhhoa.gov.vn"]
    report = converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    mine = {c["op"]: c for c in report["changes"] if c["address"] == "pqhuy@khanhhoa.gov.vn"}
    assert set(mine) >= {"revoke"} and all(c["result"] == "failed" for c in mine.values())
    after = _live(ldap)["pqhuy@khanhhoa.gov.vn"]
    assert after == before  # not the state, not the title: nothing before the archive is verified
    assert after["status"] == "active"

    archive = {"address": "pqhuy@khanhhoa.gov.vn", "path": "/x.tar.gz", "sha256": "0" * 64, "verified": True}
    report = converge(str(tree), ldap, archives=[archive])
    assert {c["result"] for c in report["changes"]} == {"ok"}
    after = _live(ldap)["pqhuy@khanhhoa.gov.vn"]
    assert after["status"] == "revoked" and after["dn"].startswith("uid=pqhuy,ou=revoked,")


def test_a_crash_after_delivery_fails_the_run_and_the_rerun_keeps_the_delivered_passwords(
    tree, ldap, slapd, age_key, tmp_path, monkeypatch
):
    """The directory dies after the passwords were delivered, before their pending tokens are cleared:
    the run must fail (not exit 0), and the next run must recognise the delivered passwords from the
    delivery record instead of resetting every account (voiding the passwords the units hold)."""
    real_append = run_module._append_record

    def append_then_die(path, done, *marked):
        real_append(path, done, *marked)
        slapd.kill()

    monkeypatch.setattr(run_module, "_append_record", append_then_die)
    delivery = _delivery(age_key, tmp_path)
    report = converge(str(tree), ldap, delivery=delivery, report_path=str(tmp_path / "r1.json"))
    monkeypatch.undo()
    assert report["failed"] == 34 and len(report["token_errors"]) == 34
    [notice] = report["notified"]
    handed_out = dict(
        re.findall(
            r"• (\S+@khanhhoa\.gov\.vn)\n.*\n    Mật khẩu khởi tạo / initial password: (\S+)",
            _decrypt(age_key, notice["to"]),
        )
    )
    assert len(handed_out) == 34

    slapd.restart()
    assert all(is_pending(a["reset"]) for a in _live(ldap).values())
    plan = converge(str(tree), ldap, check_mode=True, delivery=delivery, report_path=str(tmp_path / "p.json"))
    assert plan["changes"] == [] and len(plan["recovered"]) == 34, (plan["changes"][:2], plan["recovered"][:2])
    report = converge(str(tree), ldap, delivery=delivery, report_path=str(tmp_path / "r2.json"))
    assert report["failed"] == 0 and report["changes"] == [] and len(report["recovered"]) == 34
    after = _live(ldap)
    assert all(file_token(a["reset"]) is None for a in after.values())
    # the recovery keeps the mark of a password that went to support for want of a readable unit mailbox
    assert after["nvbinh@khanhhoa.gov.vn"]["reset"] == VIA_SUPPORT and after["skhcn@khanhhoa.gov.vn"]["reset"] is None
    # The passwords the units were given still open the mailboxes.
    for address in ("nvbinh@khanhhoa.gov.vn", "pqhuy@khanhhoa.gov.vn"):
        user = connect(server_uri=slapd.uri, bind_dn=Layout(ldap["base_dn"]).dn(address), bind_pw=handed_out[address])
        assert user.bound


def test_without_the_delivery_record_an_undelivered_password_is_issued_again(tree, ldap, slapd, age_key, tmp_path):
    """The record is what proves delivery: an entry left pending with no record line gets a fresh password."""
    delivery = _delivery(age_key, tmp_path)
    converge(str(tree), ldap, delivery=delivery, report_path=str(tmp_path / "r1.json"))
    conn = connect(server_uri=slapd.ldapi)
    dn = Layout(ldap["base_dn"]).dn("nvbinh@khanhhoa.gov.vn")
    assert conn.modify(dn, {"govmailResetToken": [(MODIFY_REPLACE, ["!undelivered:feedfacefeedface"])]})
    report = converge(str(tree), ldap, delivery=delivery, report_path=str(tmp_path / "r2.json"))
    assert [(c["op"], c["address"]) for c in report["changes"]] == [("reset", "nvbinh@khanhhoa.gov.vn")]
    assert report["recovered"] == []


def test_the_directory_refuses_a_revoked_address_given_as_an_alias(tree, ldap, age_key, tmp_path):
    """Defence in depth at apply time: the directory remembers revoked addresses even when the files lost them."""
    converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    skhcn = tree / "departments/skhcn.yaml"
    _edit(
        skhcn,
        "    address: pqhuy@khanhhoa.gov.vn\n",
        "    address: pqhuy@khanhhoa.gov.vn\n    status: revoked\n    reason: retired\n    since: 2026-11-26\n",
    )
    archive = {"address": "pqhuy@khanhhoa.gov.vn", "path": "/x.tar.gz", "sha256": "0" * 64, "verified": True}
    converge(str(tree), ldap, archives=[archive])
    # The files "forget" the revoked address and hand it to someone else as an alias.
    _edit(skhcn, "    address: pqhuy@khanhhoa.gov.vn\n", "    address: pqhuy2.skhcn@khanhhoa.gov.vn\n")
    _edit(
        skhcn,
        "    address: nvbinh@khanhhoa.gov.vn\n",
        "    address: nvbinh@khanhhoa.gov.vn\n    aliases: [pqhuy@khanhhoa.gov.vn]\n",
    )
    before = _live(ldap)
    with pytest.raises(InvalidTree) as exc:
        converge(str(tree), ldap, delivery=_delivery(age_key, tmp_path))
    [problem] = [p for p in exc.value.problems if p.field == "aliases"]
    assert problem.file.endswith("departments/skhcn.yaml") and problem.line > 0
    assert "pqhuy@khanhhoa.gov.vn is held in the directory by pqhuy@khanhhoa.gov.vn" in problem.message
    assert _live(ldap) == before  # nothing was written
