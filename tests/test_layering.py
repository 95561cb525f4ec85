"""The import rules of DESIGN.md, checked by reading s2sad's own source."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "s2sad"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        name = ".".join(path.relative_to(PKG.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = ast.parse(path.read_text(), str(path))
    return out


def _imports(name: str, tree: ast.Module) -> set[str]:
    """Absolute names of everything `name` imports (relative imports resolved)."""
    package = name.split(".") if name.endswith("__init__") else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


MODULES = _modules()


def _s2sad_imports(name: str) -> set[str]:
    return {i for i in _imports(name, MODULES[name]) if i.startswith("s2sad")}


def test_runtime_imports_nothing_from_s2sad():
    assert _s2sad_imports("s2sad.runtime") == set()


def test_ir_and_errors_are_leaves():
    assert _s2sad_imports("s2sad.errors") == set()
    assert {i for i in _s2sad_imports("s2sad.ir") if not i.startswith("s2sad.errors")} == set()


def test_transforms_never_import_codegen_compile_or_api():
    for name in MODULES:
        if name.startswith("s2sad.transforms"):
            bad = {i for i in _s2sad_imports(name)
                   if i.split(".")[1] in ("codegen", "compile", "api", "cli")}
            assert not bad, (name, bad)


def _calls(tree: ast.Module, attr: str) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == attr for n in ast.walk(tree))


def test_only_parse_parses_and_only_codegen_writes_source():
    # Other stages may look at gast node classes; only parse turns text into syntax trees,
    # and only codegen turns trees into text.
    for name, tree in MODULES.items():
        imports = _imports(name, tree)
        if name != "s2sad.parse":
            assert not _calls(tree, "parse"), name
            assert not any(i in ("ast", "gast.parse") for i in imports), name
        if name != "s2sad.codegen":
            assert "astor" not in imports and not _calls(tree, "to_source"), name
        if name not in ("s2sad.parse", "s2sad.codegen"):
            assert not _calls(tree, "gast_to_ast"), name


def test_every_module_and_public_function_is_documented():
    for name, tree in MODULES.items():
        assert ast.get_docstring(tree), f"{name} has no module docstring"
    import s2sad
    for public in s2sad.__all__:
        obj = getattr(s2sad, public)
        if callable(obj) and not isinstance(obj, type):
            assert obj.__doc__, public
