"""The JSON Schemas editors use are valid and are the ones the loader enforces."""

import json

import pytest
from jsonschema import Draft202012Validator

from govmail.model.tree import schema
from govmail.model.yamlsource import parse
from helpers import REPO


@pytest.mark.parametrize("name", ["org", "province"])
def test_schema_is_valid_draft_2020_12(name):
    Draft202012Validator.check_schema(schema(name))
    on_disk = json.loads((REPO / f"module_utils/govmail/schema/{name}.schema.json").read_text(encoding="utf-8"))
    assert on_disk == schema(name)


def test_every_sample_file_names_its_schema_and_passes_it():
    for path in sorted((REPO / "accounts").rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        name = "province" if path.name == "province.yaml" else "org"
        assert first.startswith("# yaml-language-server: $schema=") and first.endswith(f"{name}.schema.json"), path
        assert (
            path.parent / first.split("=", 1)[1]
        ).resolve() == REPO / f"module_utils/govmail/schema/{name}.schema.json"
        src, problems = parse(path)
        assert problems == []
        assert list(Draft202012Validator(schema(name)).iter_errors(src.data)) == [], path


def test_the_fast_path_rejects_every_known_bad_file_and_accepts_the_samples():
    """The compiled validator may only say "valid" when jsonschema would too."""
    import fastjsonschema
    from test_bad_inputs import CASES

    from govmail.model.tree import _fast_check

    rejected = 0
    for _, files, _, _ in CASES:
        for text in (t for t in files.values() if t):
            src, problems = parse("x.yaml", text)
            if problems or not isinstance(src.data, dict):
                continue
            full = list(Draft202012Validator(schema("org")).iter_errors(src.data))
            if full:
                with pytest.raises(fastjsonschema.JsonSchemaException):
                    _fast_check("org")(src.data)
                rejected += 1
    assert rejected >= 15  # the schema-level cases of the bad-input table
    for path in sorted((REPO / "accounts").rglob("*.yaml")):
        src, _ = parse(path)
        _fast_check("province" if path.name == "province.yaml" else "org")(src.data)
