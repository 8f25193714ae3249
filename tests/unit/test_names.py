"""Names to address parts: R3.4 (Unicode, NFC) and R5.2a (initials + given name)."""

import unicodedata

import pytest

from govmail.model.names import InvalidName, check_person_name, person_base, vn_slug


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Ninh Phước", "ninhphuoc"),
        ("Suối Hiệp", "suoihiep"),
        ("Tu Bông", "tubong"),
        ("Phan Rang", "phanrang"),
        ("Đô Vinh", "dovinh"),
        ("Bác Ái Đông", "bacaidong"),
        ("Trường Sa", "truongsa"),
        ("Phan Rang – Tháp Chàm", "phanrangthapcham"),
        ("Ninh\u00a0Phước", "ninhphuoc"),  # no-break space separates words
        ("Ninh\u200bPhước", "ninhphuoc"),  # zero-width space is dropped
    ],
)
def test_vn_slug(text, slug):
    assert vn_slug(text) == slug


def test_vn_slug_is_the_same_for_composed_and_decomposed_text():
    decomposed = unicodedata.normalize("NFD", "Đông Ninh Hòa")
    assert decomposed != "Đông Ninh Hòa"
    assert vn_slug(decomposed) == vn_slug("Đông Ninh Hòa") == "dongninhhoa"


@pytest.mark.parametrize(
    ("name", "given", "base"),
    [
        ("Nguyễn Văn Bình", None, "nvbinh"),  # R5.2a's example
        ("Nguyễn Văn Hùng", None, "nvhung"),
        ("Ngô Viết Hưng", None, "nvhung"),
        ("Hoàng Diễm Anh", None, "hdanh"),
        ("Huỳnh Đức Anh", None, "hdanh"),
        ("Đặng Thu Hà", None, "dtha"),
        ("Lê Na", None, "lna"),
        ("Tôn Nữ Thị Ngọc Hân", None, "tntnhan"),
        ("H'Hen Niê", "H'Hen", "nhhen"),  # Ê Đê: the given name comes first
        ("Y Moan Êban", "Y Moan", "eymoan"),  # a two-word given name
        ("Nguyễn\u00a0Văn\u2003Bình", None, "nvbinh"),  # any Unicode space separates words
        ("Nguyễn Văn\u200b Bình", None, "nvbinh"),
        ("Trần Thị Mai-Anh", None, "ttmaianh"),  # hyphens inside a word are dropped
        ("Ksor H’Bŭt", None, "khbut"),  # typographic apostrophe; breve of Ê Đê orthography
        ("nguyễn văn bình", None, "nvbinh"),
    ],
)
def test_person_base(name, given, base):
    assert person_base(name, given) == base


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("NguyÔn V¨n B×nh", "outside the Vietnamese alphabet"),  # TCVN3 read as Latin-1
        ("Nguyễn Văn Bình 2", "outside the Vietnamese alphabet"),
        ("Nguyễn Văn 😀", "outside the Vietnamese alphabet"),
        ("Nguyễn Văn B.", "outside the Vietnamese alphabet"),
        ("Nguyễn Văn Bình@", "outside the Vietnamese alphabet"),
        ("Müller Anh", "outside the Vietnamese alphabet"),  # diaeresis is not Vietnamese
        ("NguyÔn Văn Bình", "mixes case"),
        ("Nguyễñ Văn", "tone marks"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("Nguyễn - Bình", "has no letters"),
    ],
)
def test_names_that_are_errors(name, fragment):
    with pytest.raises(InvalidName, match=fragment):
        check_person_name(name)


def test_given_name_must_be_in_the_name():
    with pytest.raises(InvalidName, match="not a run of words"):
        person_base("Nguyễn Văn Bình", "Hùng")
