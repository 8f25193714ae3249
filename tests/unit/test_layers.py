"""The engine's layout is its architecture: each subpackage imports only the layers below it, and no cycle."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "module_utils" / "govmail"

# Subpackage → the subpackages it may import (its own is always allowed). Each __init__ says the same in words.
ALLOWED = {
    "model": set(),
    "mailhost": set(),
    "directory": {"model", "mailhost"},
    "workflow": {"model"},
    "lifecycle": {"model", "mailhost", "directory", "workflow"},
    "password_page": {"model"},
    "ops": {"model", "mailhost", "directory"},
    "cli": {"model", "mailhost", "directory", "workflow", "lifecycle", "password_page", "ops"},
}


def _imports(path: Path) -> set[str]:
    """Dotted govmail modules that ``path`` imports (relative imports resolved)."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    here = list(rel.parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == "govmail":
                target = node.module.split(".")
            else:
                continue
            names = [a.name for a in node.names]
            for name in names:
                candidate = [*target, name]
                as_module = PACKAGE.parent.joinpath(*candidate)
                if as_module.with_suffix(".py").exists() or (as_module / "__init__.py").exists():
                    found.add(".".join(candidate))
                else:
                    found.add(".".join(target))
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        graph[name.removesuffix(".__init__")] = _imports(path)
    return graph


def test_every_subpackage_is_declared():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(ALLOWED)


def test_lower_layers_never_import_upper_ones():
    wrong = []
    for module, targets in _graph().items():
        parts = module.split(".")
        if len(parts) < 3:
            continue
        layer = parts[1]
        for target in targets:
            other = target.split(".")[1] if target.count(".") >= 1 else None
            if other and other != layer and other in ALLOWED and other not in ALLOWED[layer]:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif not state.get(nxt):
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])
    assert cycles == []


def test_the_checker_sees_a_forbidden_import(tmp_path, monkeypatch):
    """The check could fail: a model module importing the directory is caught."""
    fake = tmp_path / "govmail"
    for sub in ALLOWED:
        (fake / sub).mkdir(parents=True)
        (fake / sub / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "directory" / "layout.py").write_text("X = 1\n")
    (fake / "model" / "orgs.py").write_text("from ..directory.layout import X\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    graph = _graph()
    assert "govmail.directory.layout" in graph["govmail.model.orgs"]
    try:
        test_lower_layers_never_import_upper_ones()
    except AssertionError as exc:
        assert "govmail.model.orgs imports govmail.directory.layout" in str(exc)
    else:
        raise AssertionError("the forbidden import was not seen")
