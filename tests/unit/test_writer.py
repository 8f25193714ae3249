"""`govmail allocate` inserts one line per address and leaves every other byte as it was."""

from govmail.model.addresses import allocate
from govmail.model.rules import load_valid
from govmail.model.writer import write_allocations

HEAD = "org: {id: skhcn, name: Sở Khoa học và Công nghệ, kind: province_body, owners: [it]}\n"


def _allocate(root):
    write_allocations(allocate(load_valid(root)))
    return (root / "skhcn.yaml").read_bytes().decode("utf-8")


def test_block_entry_gets_an_address_line_after_its_last_leading_field(tree_dir):
    root = tree_dir(
        {
            "skhcn.yaml": HEAD
            + "units: [{id: ppc, name: Phòng Pháp chế}]\n"
            + "people:\n"
            + "  # the legal team\n"
            + "  - name: Nguyễn Văn Bình   # the head\n"
            + "    title: 'Trưởng phòng'\n"
            + "    unit: ppc\n"
            + "    reset: '1'            # asked on 1 Jan\n"
        }
    )
    assert _allocate(root) == (
        HEAD + "units: [{id: ppc, name: Phòng Pháp chế}]\n"
        "people:\n"
        "  # the legal team\n"
        "  - name: Nguyễn Văn Bình   # the head\n"
        "    title: 'Trưởng phòng'\n"
        "    unit: ppc\n"
        "    address: nvbinh@khanhhoa.gov.vn\n"
        "    reset: '1'            # asked on 1 Jan\n"
    )


def test_flow_entry_gets_an_address_item(tree_dir):
    root = tree_dir({"skhcn.yaml": HEAD + "people:\n  - {name: Lê Na, title: CV }  # short\n"})
    assert _allocate(root) == HEAD + "people:\n  - {name: Lê Na, title: CV, address: lna@khanhhoa.gov.vn }  # short\n"


def test_last_line_without_newline_and_crlf_files(tree_dir):
    root = tree_dir({"skhcn.yaml": (HEAD + "people:\n  - name: Lê Na\n    title: CV").replace("\n", "\r\n")})
    got = _allocate(root)
    assert got == (HEAD + "people:\n  - name: Lê Na\n    title: CV\n    address: lna@khanhhoa.gov.vn\n").replace(
        "\n", "\r\n"
    )


def test_multiline_title_and_entries_in_one_file_in_order(tree_dir):
    root = tree_dir(
        {
            "skhcn.yaml": HEAD
            + "people:\n"
            + "  - name: Hoàng Diễm Anh\n"
            + "    title: >-\n"
            + "      Phó Trưởng phòng\n"
            + "      Pháp chế\n"
            + "  - name: Huỳnh Đức Anh\n"
            + "    title: CV\n"
        }
    )
    assert _allocate(root) == (
        HEAD + "people:\n"
        "  - name: Hoàng Diễm Anh\n"
        "    title: >-\n"
        "      Phó Trưởng phòng\n"
        "      Pháp chế\n"
        "    address: hdanh@khanhhoa.gov.vn\n"
        "  - name: Huỳnh Đức Anh\n"
        "    title: CV\n"
        "    address: hdanh.skhcn@khanhhoa.gov.vn\n"
    )


def test_second_run_writes_nothing(tree_dir):
    root = tree_dir({"skhcn.yaml": HEAD + "people:\n  - {name: Lê Na, title: CV}\n"})
    _allocate(root)
    assert allocate(load_valid(root)) == []
