"""The pull/merge request templates mirror the Appendix form and show every request type."""

import re

import pytest

from govmail.cli.main import parser
from helpers import REPO

TEMPLATES = [REPO / ".github/pull_request_template.md", REPO / ".gitlab/merge_request_templates/Default.md"]


@pytest.mark.parametrize("path", TEMPLATES, ids=["github", "gitlab"])
def test_template_has_the_appendix_sections_and_every_request_type(path):
    text = path.read_text(encoding="utf-8")
    for heading in (
        "Tài khoản đơn vị / Unit accounts",
        "Tài khoản cá nhân / Personal accounts",
        "Người liên hệ / Contact person",
        "Đơn vị cũ (khi thay đổi) / Previous unit",
    ):
        assert heading in text
    for words in ("Tạo mới", "Cấp lại mật khẩu", "Tạm khóa", "Khôi phục", "Thu hồi", "Thay đổi thông tin"):
        assert f"**{words}" in text, words
    # every command shown in the template is a real command with real options
    commands = re.findall(r"`(govmail request [^`]+)`", text)
    assert len(commands) >= 7
    for command in commands:
        args = re.findall(r'"[^"]+"|\S+', command)[1:]
        if "…" in args:
            continue
        parser().parse_args([a.strip('"') for a in args])


def test_both_forges_get_the_same_template():
    assert TEMPLATES[0].read_bytes() == TEMPLATES[1].read_bytes()
