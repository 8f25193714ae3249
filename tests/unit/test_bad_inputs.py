"""Bad input: the exact error (file, line, field) and not one byte written anywhere."""

from __future__ import annotations

import os

import pytest

from govmail.cli.main import main
from helpers import PROVINCE, snapshot, write_tree

HEAD = "org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [it]}\n"
NEWCOMER = "  - {name: Lê Văn Mới, title: Chuyên viên}\n"  # would be allocated if the tree were valid
F = "accounts/skhcn.yaml"

# (case id, {path: text}, province text or None for the default, the exact error line)
CASES = [
    (
        "yaml-syntax",
        {F: HEAD + "people:\n  - name: [unclosed\n"},
        None,
        f"{F}:4: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence that starts on line 3)",
    ),
    (
        "duplicate-key",
        {F: HEAD + "people:\n  - name: A\n    name: B\n"},
        None,
        f"{F}:4: people[0].name: duplicate key (first on line 3)",
    ),
    ("not-a-mapping", {F: "- just\n- a list\n"}, None, f"{F}:1: must be a mapping with an 'org' section"),
    ("no-org", {F: "people: []\n"}, None, f"{F}:1: missing required field 'org'"),
    (
        "org-missing-kind",
        {F: "org: {id: skhcn, name: Sở KH, owners: [it]}\n"},
        None,
        f"{F}:1: org: missing required field 'kind'",
    ),
    (
        "org-unknown-kind",
        {F: "org: {id: skhcn, name: Sở KH, kind: department, owners: [it]}\n"},
        None,
        f"{F}:1: org.kind: 'department' is not one of: province_body, commune, ward, special_zone, other_body",
    ),
    (
        "org-bad-id",
        {F: "org: {id: SKHCN, name: Sở KH, kind: province_body, owners: [it]}\n"},
        None,
        f"{F}:1: org.id: 'SKHCN' must be lowercase ASCII letters and digits, starting with a letter",
    ),
    (
        "org-no-owners",
        {F: "org: {id: skhcn, name: Sở KH, kind: province_body, owners: []}\n"},
        None,
        f"{F}:1: org.owners: must not be empty",
    ),
    (
        "stem-differs",
        {"accounts/khcn.yaml": HEAD},
        None,
        "accounts/khcn.yaml:1: org.id: is 'skhcn' but the file is named khcn.yaml; they must match",
    ),
    (
        "unknown-top-field",
        {F: HEAD + "persons: []\n"},
        None,
        f"{F}:2: persons: unknown field (allowed here: org, people, units)",
    ),
    (
        "unknown-person-field",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, email: x}\n"},
        None,
        f"{F}:3: people[0].email: unknown field (allowed here: address, aliases, given_name, inactive_reason, name, quota, reason, reset, since, status, title, unit)",
    ),
    (
        "birth-date",
        {F: HEAD + "people:\n  - name: Lê Văn A\n    title: CV\n    birth_date: 1980-01-01\n"},
        None,
        f"{F}:5: people[0].birth_date: personal data or secrets must not be kept in account files (only name, title and unit)",
    ),
    (
        "citizen-id",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, cccd: '012345678901'}\n"},
        None,
        f"{F}:3: people[0].cccd: personal data or secrets must not be kept in account files (only name, title and unit)",
    ),
    (
        "ethnicity",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, dan_toc: Kinh}\n"},
        None,
        f"{F}:3: people[0].dan_toc: personal data or secrets must not be kept in account files (only name, title and unit)",
    ),
    (
        "password",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, password: x}\n"},
        None,
        f"{F}:3: people[0].password: personal data or secrets must not be kept in account files (only name, title and unit)",
    ),
    (
        "person-no-title",
        {F: HEAD + "people:\n  - {name: Lê Văn A}\n"},
        None,
        f"{F}:3: people[0]: missing required field 'title'",
    ),
    (
        "person-name-number",
        {F: HEAD + "people:\n  - {name: 42, title: CV}\n"},
        None,
        f"{F}:3: people[0].name: must be string, not int 42",
    ),
    (
        "unknown-status",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, status: locked}\n"},
        None,
        f"{F}:3: people[0].status: 'locked' is not one of: active, suspended, revoked",
    ),
    (
        "status-without-reason",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, status: suspended, since: '2026-01-05'}\n"},
        None,
        f"{F}:3: people[0].status: status suspended needs a reason (R8.2)",
    ),
    (
        "status-without-since",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, status: suspended, reason: inactive}\n"},
        None,
        f"{F}:3: people[0].status: status suspended needs since: the date of the change (R8.1)",
    ),
    (
        "bad-reason",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, status: suspended, reason: lazy, since: '2026-01-05'}\n"},
        None,
        f"{F}:3: people[0].reason: 'lazy' must start with one of: inactive, compromised, prohibited, transferred, retired, resigned, requested, other",
    ),
    (
        "other-without-text",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, status: suspended, reason: other, since: '2026-01-05'}\n"},
        None,
        f"{F}:3: people[0].reason: 'other' needs a few words saying what the reason is",
    ),
    (
        "not-a-date",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, status: suspended, reason: inactive, since: 5 Jan}\n"},
        None,
        f"{F}:3: people[0].since: '5 Jan' must be a date written YYYY-MM-DD",
    ),
    (
        "impossible-date",
        {
            F: HEAD
            + "people:\n  - {name: Lê Văn A, title: CV, status: suspended, reason: inactive, since: '2026-02-30'}\n"
        },
        None,
        f"{F}:3: people[0].since: '2026-02-30' is not a real date",
    ),
    (
        "future-date",
        {
            F: HEAD
            + "people:\n  - {name: Lê Văn A, title: CV, status: suspended, reason: inactive, since: '2999-01-01'}\n"
        },
        None,
        f"{F}:3: people[0].since: 2999-01-01 is in the future",
    ),
    (
        "revoked-without-address",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, status: revoked, reason: retired, since: '2026-01-05'}\n"},
        None,
        f"{F}:3: people[0].status: a revoked entry must keep the address it had",
    ),
    (
        "unknown-unit",
        {F: HEAD + "units: [{id: ppc, name: Phòng Pháp chế}]\npeople:\n  - {name: Lê Văn A, title: CV, unit: vp}\n"},
        None,
        f"{F}:4: people[0].unit: unknown unit path 'vp' (units: ppc)",
    ),
    (
        "unknown-nested-unit",
        {F: HEAD + "units: [{id: ppc, name: Phòng Pháp chế}]\npeople:\n  - {name: Lê Văn A, title: CV, unit: ppc/x}\n"},
        None,
        f"{F}:4: people[0].unit: unknown unit path 'ppc/x' (units: ppc)",
    ),
    (
        "duplicate-unit",
        {F: HEAD + "units:\n  - {id: ppc, name: Phòng Pháp chế}\n  - {id: ppc, name: Phòng khác}\n"},
        None,
        f"{F}:4: units[1].id: unit 'ppc' is declared twice here",
    ),
    (
        "unit-bad-id",
        {F: HEAD + "units:\n  - {id: p-pc, name: Phòng Pháp chế}\n"},
        None,
        f"{F}:3: units[0].id: 'p-pc' must be lowercase ASCII letters and digits, starting with a letter",
    ),
    (
        "tcvn3-name",
        {F: HEAD + "people:\n  - {name: NguyÔn V¨n B×nh, title: CV}\n"},
        None,
        f"{F}:3: people[0].name: word 'V¨n' has characters outside the Vietnamese alphabet: '¨' (U+00A8) (legacy TCVN3/VNI text must be converted to Unicode first)",
    ),
    (
        "digit-in-name",
        {F: HEAD + "people:\n  - {name: Lê Văn 2, title: CV}\n"},
        None,
        f"{F}:3: people[0].name: word '2' has characters outside the Vietnamese alphabet: '2' (U+0032) (legacy TCVN3/VNI text must be converted to Unicode first)",
    ),
    (
        "emoji-in-name",
        {F: HEAD + "people:\n  - {name: Lê Văn 😀, title: CV}\n"},
        None,
        f"{F}:3: people[0].name: word '😀' has characters outside the Vietnamese alphabet: '😀' (U+1F600) (legacy TCVN3/VNI text must be converted to Unicode first)",
    ),
    (
        "given-name-missing",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, given_name: Bình}\n"},
        None,
        f"{F}:3: people[0].given_name: given_name 'Bình' is not a run of words in the name",
    ),
    (
        "not-nfc",
        {F: HEAD + 'people:\n  - {name: "Le\u0302 Văn A", title: CV}\n'},
        None,
        f"{F}:3: people[0].name: is not in Unicode NFC (composed) form as R3.4 requires; retype or normalise it",
    ),
    (
        "address-malformed",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, address: Le.A@khanhhoa.gov.vn}\n"},
        None,
        f"{F}:3: people[0].address: 'Le.A@khanhhoa.gov.vn' is not a well-formed address (lowercase a-z, 0-9 and dots before @)",
    ),
    (
        "address-other-domain",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, address: lva@gmail.com}\n"},
        None,
        f"{F}:3: people[0].address: 'lva@gmail.com' is not in the domain khanhhoa.gov.vn",
    ),
    (
        "address-reserved",
        {F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, address: postmaster@khanhhoa.gov.vn}\n"},
        None,
        f"{F}:3: people[0].address: 'postmaster@khanhhoa.gov.vn' is a reserved name",
    ),
    (
        "two-entries-one-address",
        {
            F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, address: lva@khanhhoa.gov.vn}\n"
            "  - {name: Lê Văn Á, title: CV, address: lva@khanhhoa.gov.vn}\n"
        },
        None,
        f"{F}:4: people[1].address: 'lva@khanhhoa.gov.vn' (Lê Văn Á) is already used by Lê Văn A at {F}:3",
    ),
    (
        "address-is-a-unit",
        {
            F: HEAD
            + "units: [{id: ppc, name: Phòng Pháp chế}]\npeople:\n  - {name: Lê Văn A, title: CV, address: ppc.skhcn@khanhhoa.gov.vn}\n"
        },
        None,
        f"{F}:4: people[0].address: 'ppc.skhcn@khanhhoa.gov.vn' (Lê Văn A) is already used by unit Phòng Pháp chế at {F}:2",
    ),
    (
        "alias-taken",
        {
            F: HEAD + "people:\n  - {name: Lê Văn A, title: CV, address: lva@khanhhoa.gov.vn}\n"
            "  - {name: Lê Văn B, title: CV, address: lvb@khanhhoa.gov.vn, aliases: [lva@khanhhoa.gov.vn]}\n"
        },
        None,
        f"{F}:4: people[1].aliases[0]: 'lva@khanhhoa.gov.vn' (alias of Lê Văn B) is already used by Lê Văn A at {F}:3",
    ),
    (
        "duplicate-org-id",
        {F: HEAD, "accounts/x/skhcn.yaml": HEAD},
        None,
        "accounts/x/skhcn.yaml:1: org.id: 'skhcn' is also the id in accounts/skhcn.yaml",
    ),
    (
        "commune-id-not-slug",
        {"accounts/ninhphuoc1.yaml": "org: {id: ninhphuoc1, name: Ninh Phước, kind: commune, owners: [o]}\n"},
        None,
        "accounts/ninhphuoc1.yaml:1: org.id: must be the slug of the name 'Ninh Phước': 'ninhphuoc' (R5.1b)",
    ),
    (
        "bodies-on-a-department",
        {F: "org: {id: skhcn, name: Sở KH, kind: province_body, owners: [it], bodies: [ubnd]}\n"},
        None,
        f"{F}:1: org.bodies: only communes, wards and the special zone have bodies (R5.1b)",
    ),
    (
        "unknown-body",
        {
            "accounts/tubong.yaml": "org: {id: tubong, name: Tu Bông, kind: commune, owners: [o], bodies: [ubnd, mttq]}\n"
        },
        None,
        "accounts/tubong.yaml:1: org.bodies[1]: 'mttq' is not one of: du, ubnd, hdnd",
    ),
    (
        "commune-not-in-reference",
        {"accounts/vanxuan.yaml": "org: {id: vanxuan, name: Vạn Xuân, kind: commune, owners: [o]}\n"},
        PROVINCE + "communes: ../communes.yaml\n",
        "accounts/vanxuan.yaml:1: org.name: xã 'Vạn Xuân' is not in the province's reference list of communes",
    ),
    (
        "ward-listed-as-commune",
        {"accounts/phanrang.yaml": "org: {id: phanrang, name: Phan Rang, kind: commune, owners: [o]}\n"},
        PROVINCE + "communes: ../communes.yaml\n",
        "accounts/phanrang.yaml:1: org.name: xã 'Phan Rang' is not in the province's reference list of communes",
    ),
    (
        "yml-extension",
        {"accounts/syt.yml": "org: {}\n"},
        None,
        "accounts/syt.yml: account files end in .yaml; this one would be ignored",
    ),
    (
        "province-bad-domain",
        {},
        "domain: KhanhHoa\nprovince_code: kh\napprovers: [ttcds]\n",
        "accounts/province.yaml:1: domain: 'KhanhHoa' has the wrong form",
    ),
    (
        "province-unknown-field",
        {},
        PROVINCE + "approver: [x]\n",
        "accounts/province.yaml:7: approver: unknown field (allowed here: approved_addresses, approvers, communes, domain, province_code, quotas, reserved, system_accounts)",
    ),
    ("province-missing", {}, "", "accounts/province.yaml:1: must be a mapping of settings"),
    (
        "system-account-other-domain",
        {},
        PROVINCE + "  - {address: help@gmail.com, name: Help}\n",
        "accounts/province.yaml:7: system_accounts[1].address: 'help@gmail.com' is not in the domain khanhhoa.gov.vn",
    ),
    ("not-utf8", {F: None}, None, f"{F}:1: is not UTF-8 text (invalid continuation byte at byte 13)"),
]


@pytest.mark.parametrize(("files", "province", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_reported_exactly_and_nothing_is_written(tmp_path, capsys, files, province, expected):
    (tmp_path / "communes.yaml").write_text("commune: [Ninh Phước, Tu Bông]\nward: [Phan Rang]\n", encoding="utf-8")
    good = {
        "accounts/zz/ok.yaml": "org: {id: ok, name: Đơn vị mẫu, kind: other_body, owners: [o]}\npeople:\n" + NEWCOMER
    }
    texts = {k: v for k, v in {**good, **files}.items() if v is not None}
    root = write_tree(tmp_path, {}, province=None)
    (root / "accounts").mkdir()
    (root / "accounts/province.yaml").write_text(PROVINCE if province is None else province, encoding="utf-8")
    for rel, text in texts.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    for rel in (k for k, v in files.items() if v is None):
        (root / rel).write_bytes(b"org: {name: L\xea}\n")  # Latin-1 bytes, not UTF-8
    before = snapshot(root)

    cwd = os.getcwd()
    os.chdir(root)
    try:
        code = main(["allocate", "accounts"])
    finally:
        os.chdir(cwd)

    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert any(line == expected or (expected.endswith(":") and line.startswith(expected)) for line in err), err
    assert err[-1].endswith("error(s); nothing was written.")
    assert snapshot(root) == before


def test_the_table_is_large_enough():
    assert len(CASES) >= 40


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    """Attack: a 1.5 kB file of nested aliases ("billion laughs") that expands into gigabytes."""

    root = tmp_path / "accounts"
    root.mkdir()
    (root / "province.yaml").write_text(PROVINCE, encoding="utf-8")
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]
    bomb = "org: {id: skhcn, name: Sở KH, kind: province_body, owners: [x]}\n" + "\n".join(levels) + "\n"
    assert len(bomb.encode()) < 2000
    (root / "skhcn.yaml").write_text(bomb, encoding="utf-8")
    assert main(["validate", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"{root / 'skhcn.yaml'}:2: YAML anchors and aliases (&name, *name) are not allowed" in err


def test_an_oversized_file_is_refused_without_being_read(tmp_path, capsys):

    from govmail.model.yamlsource import MAX_FILE_BYTES

    root = tmp_path / "accounts"
    root.mkdir()
    (root / "province.yaml").write_text(PROVINCE, encoding="utf-8")
    big = root / "skhcn.yaml"
    big.write_text("# " + "x" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    assert main(["validate", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"{big}:1: is {big.stat().st_size} bytes; an account file may be at most {MAX_FILE_BYTES} bytes" in err
