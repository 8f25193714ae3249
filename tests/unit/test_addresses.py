"""Article 5: every example of the regulation comes out exactly as written there."""

from govmail.model.addresses import accounts, allocate, person_candidates
from govmail.model.rules import load_valid

REGULATION_TREE = {
    # Sorted path order is allocation order: the commune files come first and hold nvhung@ and hdanh@.
    "a/ninhphuoc.yaml": """\
        org: {id: ninhphuoc, name: Ninh Phước, kind: commune, owners: [np]}
        people:
          - {name: Nguyễn Viết Hưng, title: Chủ tịch}
          - {name: Hà Đức Anh, title: Phó Chủ tịch}
        """,
    "a/suoihiep.yaml": """\
        org: {id: suoihiep, name: Suối Hiệp, kind: commune, owners: [sh]}
        units: [{id: ttpvhcc, name: Trung tâm Phục vụ hành chính công}]
        """,
    "b/skhcn.yaml": """\
        org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [skhcn]}
        units:
          - {id: ppc, name: Phòng Pháp chế}
          - {id: ttcds, name: Trung tâm Chuyển đổi số}
        people:
          - {name: Nguyễn Văn Bình, title: Chuyên viên, unit: ppc}
          - {name: Nguyễn Văn Hùng, title: Chuyên viên}
        """,
    "b/syt.yaml": """\
        org: {id: syt, name: Sở Y tế, kind: province_body, owners: [syt]}
        units:
          - id: ttytkvprtc
            name: Trung tâm Y tế khu vực Phan Rang – Tháp Chàm
            units: [{id: ptctc, name: Phòng Tổ chức – Tài chính}]
        """,
    "c/ctys.yaml": """\
        org: {id: ctys, name: Công ty TNHH MTV Yến sào Khánh Hòa, kind: other_body, owners: [ctys]}
        """,
    "c/phanrang.yaml": """\
        org: {id: phanrang, name: Phan Rang, kind: ward, owners: [pr]}
        people:
          - {name: Hoàng Diễm Anh, title: Chuyên viên}
          - {name: Huỳnh Đức Anh, title: Chuyên viên}
        """,
    "c/tubong.yaml": """\
        org: {id: tubong, name: Tu Bông, kind: commune, owners: [tb]}
        people:
          - {name: Ngô Viết Hưng, title: Bí thư}
        """,
}


def _by_name(tree_path):
    tree = load_valid(tree_path)
    return {a.name: a.address for a in accounts(tree)}


def test_every_example_of_article_5(tree_dir):
    got = _by_name(tree_dir(REGULATION_TREE))
    assert got["Sở Khoa học và Công nghệ"] == "skhcn@khanhhoa.gov.vn"  # R5.1a
    assert got["Ủy ban nhân dân xã Ninh Phước"] == "ubndninhphuoc@khanhhoa.gov.vn"  # R5.1b
    assert got["Đảng ủy xã Ninh Phước"] == "duninhphuoc@khanhhoa.gov.vn"
    assert got["Hội đồng nhân dân xã Ninh Phước"] == "hdndninhphuoc@khanhhoa.gov.vn"
    assert got["Phòng Pháp chế"] == "ppc.skhcn@khanhhoa.gov.vn"  # R5.1c
    assert got["Trung tâm Chuyển đổi số"] == "ttcds.skhcn@khanhhoa.gov.vn"
    assert got["Trung tâm Phục vụ hành chính công"] == "ttpvhcc.suoihiep@khanhhoa.gov.vn"
    assert got["Phòng Tổ chức – Tài chính"] == "ptctc.ttytkvprtc@khanhhoa.gov.vn"  # R5.1d
    assert got["Công ty TNHH MTV Yến sào Khánh Hòa"] == "ctys.kh@khanhhoa.gov.vn"  # R5.1đ
    assert got["Nguyễn Văn Bình"] == "nvbinh@khanhhoa.gov.vn"  # R5.2a
    assert got["Nguyễn Viết Hưng"] == "nvhung@khanhhoa.gov.vn"
    assert got["Nguyễn Văn Hùng"] == "nvhung.skhcn@khanhhoa.gov.vn"  # R5.2b
    assert got["Ngô Viết Hưng"] == "nvhung.tubong@khanhhoa.gov.vn"
    assert got["Hà Đức Anh"] == "hdanh@khanhhoa.gov.vn"
    assert got["Hoàng Diễm Anh"] == "hdanh.phanrang@khanhhoa.gov.vn"  # R5.2c
    assert got["Huỳnh Đức Anh"] == "hdanh2.phanrang@khanhhoa.gov.vn"


def test_candidates_follow_r52():
    gen = person_candidates("hdanh", "phanrang", "khanhhoa.gov.vn")
    assert [next(gen) for _ in range(4)] == [
        "hdanh@khanhhoa.gov.vn",
        "hdanh.phanrang@khanhhoa.gov.vn",
        "hdanh2.phanrang@khanhhoa.gov.vn",
        "hdanh3.phanrang@khanhhoa.gov.vn",
    ]


def test_reserved_system_alias_and_revoked_addresses_are_never_issued(tree_dir):
    root = tree_dir(
        {
            "x/skhcn.yaml": """\
                org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [o]}
                people:
                  - {name: Lê Văn Tám, title: CV, address: lvtam@khanhhoa.gov.vn, status: revoked,
                     reason: retired, since: "2025-01-02"}
                  - {name: Nguyễn Thị Anh, title: CV, address: nta.cu@khanhhoa.gov.vn, aliases: [ntanh@khanhhoa.gov.vn]}
                  - {name: Lê Văn Tám, title: CV}
                  - {name: Nguyễn Thị Anh, title: CV}
                  - {name: Đỗ Minh In, title: CV}
                """
        },
        province="domain: khanhhoa.gov.vn\nprovince_code: kh\napprovers: [ttcds]\nreserved: [dmin]\n",
    )
    got = [address for _, _, address in allocate(load_valid(root))]
    assert got == [
        "lvtam.skhcn@khanhhoa.gov.vn",  # lvtam@ was revoked: never issued again
        "ntanh.skhcn@khanhhoa.gov.vn",  # ntanh@ is somebody's alias
        "dmin.skhcn@khanhhoa.gov.vn",  # dmin is reserved
    ]


def test_issued_addresses_never_change_when_people_are_added_before_them(tree_dir):
    files = {
        "skhcn.yaml": """\
            org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [o]}
            people:
              - {name: Hoàng Diễm Anh, title: CV, address: hdanh.skhcn@khanhhoa.gov.vn}
              - {name: Huỳnh Đức Anh, title: CV}
            """
    }
    got = [address for _, _, address in allocate(load_valid(tree_dir(files)))]
    # hdanh@ is free, so the newcomer takes it; the issued hdanh.skhcn@ stays where it is.
    assert got == ["hdanh@khanhhoa.gov.vn"]


def test_commune_bodies_follow_the_bodies_list(tree_dir):
    root = tree_dir(
        {
            "tubong.yaml": """\
                org: {id: tubong, name: Tu Bông, kind: commune, owners: [o], bodies: [ubnd]}
                """,
            "truongsa.yaml": """\
                org: {id: truongsa, name: Trường Sa, kind: special_zone, owners: [o], mailbox: false}
                """,
        }
    )
    got = sorted(a.address for a in accounts(load_valid(root)) if a.kind == "body")
    assert got == ["ubndtubong@khanhhoa.gov.vn"]


def test_org_mailbox_false_and_unit_mailbox_false_give_no_account(tree_dir):
    root = tree_dir(
        {
            "skhcn.yaml": """\
                org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [o], mailbox: false}
                units: [{id: ppc, name: Phòng Pháp chế, mailbox: false}, {id: vp, name: Văn phòng}]
                """
        }
    )
    assert sorted(a.address for a in accounts(load_valid(root)) if a.kind != "system") == ["vp.skhcn@khanhhoa.gov.vn"]
