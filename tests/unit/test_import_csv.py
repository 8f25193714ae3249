"""`govmail import --csv`: files that keep every address, validate, and need no allocation."""

from govmail.cli.main import main
from govmail.model.addresses import accounts, allocate
from govmail.model.rules import load_valid

CSV = """address,name,title,org,unit,status
nvbinh@khanhhoa.gov.vn,Nguyễn Văn Bình,Chuyên viên,skhcn,Phòng Pháp chế,
binh.nguyen@khanhhoa.gov.vn,Nguyễn Thanh Bình,Kế toán,skhcn,,
skhcn@khanhhoa.gov.vn,Sở Khoa học và Công nghệ,,skhcn,,
vp.skhcn@khanhhoa.gov.vn,Văn phòng Sở,,skhcn,,
ttlan@khanhhoa.gov.vn,Trần Thị Lan,Văn thư,Ninh Phước,,suspended
ubndtubong@khanhhoa.gov.vn,UBND xã Tu Bông,,Tu Bông,,
someone@gmail.com,Người Ngoài,,skhcn,,
,Không Địa Chỉ,,skhcn,,
nvbinh@khanhhoa.gov.vn,Nguyễn Văn Bình,Chuyên viên,skhcn,,
"""


def test_csv_import_keeps_addresses_and_reports_what_it_could_not_map(tmp_path, capsys):
    source = tmp_path / "export.csv"
    source.write_text(CSV, encoding="utf-8")
    communes = tmp_path / "communes.yaml"
    communes.write_text("commune: [Ninh Phước, Tu Bông]\n", encoding="utf-8")
    out = tmp_path / "accounts"
    code = main(["import", "--csv", str(source), "--out", str(out), "--communes", str(communes)])
    err = capsys.readouterr().err.splitlines()
    assert code == 1  # some rows were not imported
    assert err == [
        f"not imported: {source}:8: address 'someone@gmail.com' is not a well-formed address in khanhhoa.gov.vn",
        f"not imported: {source}:9: address '' is not a well-formed address in khanhhoa.gov.vn",
        f"not imported: {source}:10: address nvbinh@khanhhoa.gov.vn appears twice",
    ]
    tree = load_valid(out)
    assert allocate(tree) == []
    got = {a.address: a for a in accounts(tree)}
    assert got["nvbinh@khanhhoa.gov.vn"].unit == "phongphapche"
    assert got["binh.nguyen@khanhhoa.gov.vn"].name == "Nguyễn Thanh Bình"  # a non-R5.2 address is kept as is
    assert got["vp.skhcn@khanhhoa.gov.vn"].kind == "unit"
    assert got["skhcn@khanhhoa.gov.vn"].kind == "org"
    assert [a for a in got if a.endswith("tubong@khanhhoa.gov.vn")] == ["ubndtubong@khanhhoa.gov.vn"]
    assert got["ttlan@khanhhoa.gov.vn"].status == "suspended" and got["ttlan@khanhhoa.gov.vn"].org == "ninhphuoc"
    # Only mailboxes that existed: Ninh Phước had no body mailbox in the export, so none appears.
    assert not [a for a in got if a.endswith("ninhphuoc@khanhhoa.gov.vn")]

    # Importing again over the same files is refused without --force, and nothing changes.
    before = (out / "skhcn.yaml").read_bytes()
    assert main(["import", "--csv", str(source), "--out", str(out)]) == 1
    assert "exist already" in capsys.readouterr().err
    assert (out / "skhcn.yaml").read_bytes() == before


def test_csv_without_the_needed_columns_is_an_error(tmp_path, capsys):
    source = tmp_path / "bad.csv"
    source.write_text("mail,cn\nx@khanhhoa.gov.vn,X\n", encoding="utf-8")
    assert main(["import", "--csv", str(source), "--out", str(tmp_path / "o")]) == 1
    assert "missing ['address', 'name', 'org']" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_org_values_that_would_name_the_province_file_or_no_file_write_nothing(tmp_path, capsys):
    """Attack: a CSV whose org is `province` (overwrite province.yaml) or `...` (write `.yaml`)."""
    out = tmp_path / "accounts"
    out.mkdir()
    (out / "province.yaml").write_text("domain: khanhhoa.gov.vn\n", encoding="utf-8")
    source = tmp_path / "export.csv"
    source.write_text(
        "address,name,title,org,unit,status\n"
        "a@khanhhoa.gov.vn,Nguyễn Văn A,CV,province,,\n"
        "b@khanhhoa.gov.vn,Nguyễn Văn B,CV,...,,\n",
        encoding="utf-8",
    )
    code = main(["import", "--csv", str(source), "--out", str(out), "--force"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{source}:2: org 'province' would write province.yaml, the province's own file" in err
    assert f"{source}:3: org '...' gives no usable id" in err
    assert sorted(p.name for p in out.iterdir()) == ["province.yaml"]
    assert (out / "province.yaml").read_text(encoding="utf-8") == "domain: khanhhoa.gov.vn\n"


def test_write_checks_every_file_name_before_writing_anything(tmp_path):
    import pytest

    from govmail.directory.importer import Imported, write

    result = Imported(files={"skhcn.yaml": "org: {}\n", "province.yaml": "x\n"})
    with pytest.raises(ValueError, match=r"refusing to write 'province\.yaml'"):
        write(result, str(tmp_path / "out"), "khanhhoa.gov.vn", "kh")
    assert not (tmp_path / "out").exists()
