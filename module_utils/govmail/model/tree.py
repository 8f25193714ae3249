"""Reading an accounts/ directory: find the files, parse them, check them against the schema, build the model."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import fastjsonschema
from jsonschema import Draft202012Validator

from .filecache import FileCache
from .orgs import COMMUNE_KINDS, Org, Person, Province, Tree, Unit
from .problems import Problem
from .schemas import SCHEMAS
from .yamlsource import Source, kept_line, parse

PROVINCE_FILE = "province.yaml"

# Fields the account files must never hold (Personal Data Protection Law 91/2025/QH15):
# a clearer message than "unknown field" for the usual suspects.
_PERSONAL_DATA = {
    "birth",
    "birthday",
    "birth_date",
    "dob",
    "date_of_birth",
    "ngay_sinh",
    "id_number",
    "cccd",
    "cmnd",
    "citizen_id",
    "national_id",
    "ethnicity",
    "dan_toc",
    "religion",
    "ton_giao",
    "gender",
    "phone",
    "mobile",
    "home_address",
    "password",
    "userpassword",
}

# Human wording for the schema's patterns, so a clerk reads what is expected.
_PATTERN_HINTS = {
    "^[a-z][a-z0-9]*$": "must be lowercase ASCII letters and digits, starting with a letter",
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "must be a date written YYYY-MM-DD",
    "^[a-z][a-z0-9]*(/[a-z][a-z0-9]*)*$": "must be a unit id or a path of unit ids such as ttytkvprtc/ptctc",
    "^[a-z0-9]+(\\.[a-z0-9]+)*@[a-z0-9-]+(\\.[a-z0-9-]+)+$": (
        "is not a well-formed address (lowercase a-z, 0-9 and dots before @)"
    ),
    "^(inactive|compromised|prohibited|transferred|retired|resigned|requested|other)\\b": (
        "must start with one of: inactive, compromised, prohibited, transferred, retired, resigned, requested, other"
    ),
}


def schema(name: str) -> dict:
    """The JSON Schema of a file kind: ``org`` or ``province``."""
    return SCHEMAS[name]


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name))


@cache
def _fast_check(name: str):
    """A compiled validator (fastjsonschema, draft-07 keywords only) for the common, valid case.

    It stops at the first error, so it only answers "valid"; an invalid file is then walked by
    jsonschema, which lists every error. A test checks both agree on every bad input we know.
    """
    draft7 = {**copy.deepcopy(schema(name)), "$schema": "http://json-schema.org/draft-07/schema#"}  # compile() mutates
    return fastjsonschema.compile(draft7)


def _describe(error) -> tuple[tuple, str]:  # noqa: PLR0911 — one return per kind of schema error reads best
    """Turn one jsonschema error into (field path, message)."""
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1]
        return path, f"missing required field '{missing}'"
    if kind == "enum":
        return path, f"{error.instance!r} is not one of: {', '.join(map(str, error.validator_value))}"
    if kind == "pattern":
        return path, f"{error.instance!r} {_PATTERN_HINTS.get(error.validator_value, 'has the wrong form')}"
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return path, f"must be {expected}, not {type(error.instance).__name__} {error.instance!r}"
    if kind == "anyOf":  # a body: an id, or a mapping with an id
        options = [v for sub in error.validator_value for v in sub.get("enum", [])]
        if options and not isinstance(error.instance, dict):
            return path, f"{error.instance!r} is not one of: {', '.join(map(str, options))}"
        if isinstance(error.instance, dict):
            inner = min(error.context, key=lambda e: len(e.path), default=None) if error.context else None
            if inner is not None and inner.validator != "enum":
                return _describe(inner)
    if kind == "minItems":
        return path, "must not be empty"
    if kind == "minLength":
        return path, "must not be empty"
    if kind == "uniqueItems":
        return path, "lists the same value twice"
    return path, error.message


def schema_problems(src: Source, name: str) -> list[Problem]:
    try:
        _fast_check(name)(src.data)
        return []
    except fastjsonschema.JsonSchemaException:
        pass  # walk it again, slowly, for every error with its field
    problems = []
    for error in _validator(name).iter_errors(src.data):
        if error.validator == "additionalProperties":
            allowed = set(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - allowed):
                fpath = (*error.absolute_path, key)
                if key.lower() in _PERSONAL_DATA:
                    msg = "personal data or secrets must not be kept in account files (only name, title and unit)"
                else:
                    msg = f"unknown field (allowed here: {', '.join(sorted(allowed))})"
                problems.append(src.problem(fpath, msg))
            continue
        fpath, msg = _describe(error)
        problems.append(src.problem(fpath, msg))
    return problems


def _load_communes(province_src: Source, rel: str) -> tuple[dict | None, list[Problem]]:
    path = Path(province_src.path).parent / rel
    ref, problems = parse(path) if path.is_file() else (None, [])
    if ref is None:
        return None, [province_src.problem(("communes",), f"reference list {str(path)!r} does not exist")]
    if problems:
        return None, problems
    data = ref.data if isinstance(ref.data, dict) else {}
    lists = {kind: data.get(kind) or [] for kind in COMMUNE_KINDS}
    if not all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in lists.values()):
        return None, [ref.problem((), f"must map {', '.join(COMMUNE_KINDS)} to lists of names")]
    return lists, []


def _province(src: Source) -> tuple[Province | None, list[Problem]]:
    problems = schema_problems(src, "province")
    if problems:
        return None, problems
    data = src.data
    communes = None
    if "communes" in data:
        communes, problems = _load_communes(src, data["communes"])
    province = Province(
        domain=data["domain"],
        province_code=data["province_code"],
        approvers=list(data["approvers"]),
        reserved=list(data.get("reserved", [])),
        approved_addresses=list(data.get("approved_addresses", [])),
        system_accounts=list(data.get("system_accounts", [])),
        communes=communes,
        source=src,
        quotas={kind: str(size) for kind, size in (data.get("quotas") or {}).items()},
    )
    return province, problems


def _units(items: list[dict], parent_path: str, parent_id: str, fpath: tuple) -> list[Unit]:
    out = []
    for index, item in enumerate(items):
        path = f"{parent_path}/{item['id']}" if parent_path else item["id"]
        here = (*fpath, index)
        out.append(
            Unit(
                id=item["id"],
                name=item["name"],
                path=path,
                parent_id=parent_id,
                mailbox=item.get("mailbox", True),
                status=item.get("status", "active"),
                reason=item.get("reason"),
                since=item.get("since"),
                fpath=here,
                reset=_token(item.get("reset")),
            )
        )
        out.extend(_units(item.get("units", []), path, item["id"], (*here, "units")))
    return out


def _token(value) -> str | None:
    return None if value is None else str(value)


def _bodies(org: dict) -> tuple[list[str], dict[str, dict]]:
    """Body ids in file order, and the state of each body written as a mapping."""
    ids, states = [], {}
    for item in org.get("bodies", ["du", "ubnd", "hdnd"]):
        if isinstance(item, dict):
            ids.append(item["id"])
            states[item["id"]] = {
                "status": item.get("status", "active"),
                "reason": item.get("reason"),
                "since": item.get("since"),
                "reset": _token(item.get("reset")),
            }
        else:
            ids.append(item)
    return ids, states


def _org(src: Source) -> Org:
    data = src.data
    org = data["org"]
    bodies, body_states = _bodies(org) if org["kind"] in COMMUNE_KINDS else ([], {})
    people = [
        Person(
            name=p["name"],
            title=p["title"],
            unit=p.get("unit"),
            given_name=p.get("given_name"),
            address=p.get("address"),
            status=p.get("status", "active"),
            reason=p.get("reason"),
            since=p.get("since"),
            reset=_token(p.get("reset")),
            aliases=list(p.get("aliases", [])),
            fpath=("people", index),
            quota=p.get("quota"),
            inactive_reason=p.get("inactive_reason"),
        )
        for index, p in enumerate(data.get("people", []))
    ]
    return Org(
        id=org["id"],
        name=org["name"],
        kind=org["kind"],
        owners=list(org["owners"]),
        contact=org.get("contact"),
        bodies=bodies,
        body_states=body_states,
        reset=_token(org.get("reset")),
        mailbox=org.get("mailbox", True),
        status=org.get("status", "active"),
        reason=org.get("reason"),
        since=org.get("since"),
        units=_units(data.get("units", []), "", org["id"], ("units",)),
        people=people,
        source=src,
    )


def org_from_source(src: Source) -> Org | None:
    """The org a parsed file declares, or None when the file does not pass the schema."""
    if not isinstance(src.data, dict) or schema_problems(src, "org"):
        return None
    return _org(src)


def org_files(root: Path) -> list[Path]:
    """Every unit file under root, in the sorted path order that allocation follows."""
    files = [p for p in root.rglob("*.yaml") if p.relative_to(root).as_posix() != PROVINCE_FILE]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def load(root: str | Path, texts: dict[str, str] | None = None) -> tuple[Tree | None, list[Problem]]:
    """Parse and schema-check every file. The tree is None when the province file is unusable.

    ``texts`` maps a file's path (as ``str(root / relative path)``) to new text used instead of
    the file's content: edits are validated before anything is written.
    """
    root = Path(root)
    texts = texts or {}
    if not root.is_dir():
        return None, [Problem(str(root), 0, "", "is not a directory")]
    problems: list[Problem] = []
    for stray in sorted(root.rglob("*.yml")):
        problems.append(Problem(str(stray), 0, "", "account files end in .yaml; this one would be ignored"))

    province_path = root / PROVINCE_FILE
    if not province_path.is_file():
        return None, [*problems, Problem(str(province_path), 0, "", "the province file is missing")]
    src, found = parse(province_path, texts.get(str(province_path)))
    problems += found
    province = None
    if not found:
        if not isinstance(src.data, dict):
            problems.append(src.problem((), "must be a mapping of settings"))
        else:
            province, found = _province(src)
            problems += found
    if province is None:
        return None, problems

    tree = Tree(root=str(root), province=province)
    cache = _cache(root, province_path, texts, province)
    for path in org_files(root):
        override = texts.get(str(path))
        if cache is None:
            src, found = _check_file(path, override)
        else:
            src, found = _cached_file(cache, root, path, override)
        problems += found
        if not found:
            tree.orgs.append(_org(src))
    if cache is not None and cache.misses:
        cache.prune()
    return tree, problems


def _check_file(path: Path, text: str | None) -> tuple[Source, list[Problem]]:
    """Parse one unit file and check it against the schema."""
    src, found = parse(path, text)
    if found:
        return src, found
    if not isinstance(src.data, dict):
        return src, [src.problem((), "must be a mapping with an 'org' section")]
    return src, schema_problems(src, "org")


def _cache(root: Path, province_path: Path, texts: dict[str, str], province: Province) -> FileCache | None:
    """The file cache, keyed also by the province file and the reference list it names."""
    context = [texts[str(province_path)].encode() if str(province_path) in texts else province_path.read_bytes()]
    rel = province.source.data.get("communes")
    if rel:
        communes = province_path.parent / rel
        context.append(communes.read_bytes() if communes.is_file() else b"\0missing")
    return FileCache.for_tree(root, b"\0".join(context))


def _cached_file(cache: FileCache, root: Path, path: Path, text: str | None) -> tuple[Source, list[Problem]]:
    try:
        content = text.encode("utf-8") if text is not None else path.read_bytes()
    except OSError:
        return _check_file(path, text)
    key = cache.key(path.relative_to(root).as_posix(), content)
    entry = cache.get(key)
    if entry is None:
        src, found = _check_file(path, text)
        entry = {"problems": [[p.line, p.field, p.message] for p in found]}
        if not found:
            entry["data"] = src.data
            entry["lines"] = [[line, *fpath] for fpath, line in src.lines.items() if kept_line(fpath)]
        cache.put(key, entry)
    else:
        cache.touch(key)
        found = [Problem(str(path), *p) for p in entry["problems"]]
        if found:
            return Source(str(path), ""), found
        src = Source(str(path), content.decode("utf-8"), entry["data"], {tuple(x[1:]): x[0] for x in entry["lines"]})
        src._nodes = None  # the rest of the lines and the nodes: parsed again if ever asked for
        src.rules = entry.get("rules")
    src.cache_slot = (cache, key, entry)
    return src, found
