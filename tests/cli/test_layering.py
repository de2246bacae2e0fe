"""Dependencies point inward (ARCHITECTURE.md): the kernel `vgos` imports no outer package, rich or Dagster; the
outer packages (connectors, recon, evidence_pack, gl_mappings) never reach into the composition root `vgos_app` or
the Dagster layer `vgos_assets`. Every import is found with `ast`, also those inside functions (lazy imports) and
`importlib.import_module("…")` calls, so a deferred import cannot hide a wrong dependency."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KERNEL_FORBIDDEN = frozenset({"vgos_app", "vgos_assets", "connectors", "recon", "evidence_pack", "gl_mappings",
                              "rich", "dagster"})
OUTER = ("connectors", "recon", "evidence_pack", "gl_mappings")
OUTER_FORBIDDEN = frozenset({"vgos_app", "vgos_assets"})


def _dynamic_name(node: ast.Call) -> str | None:
    """The module named by `import_module("x")`, `importlib.import_module(f"x.{y}")` or `find_spec("x")`."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name not in ("import_module", "find_spec", "__import__") or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value)  # the literal head of an f-string names the package
    return None


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file; relative imports stay inside their package."""
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and (name := _dynamic_name(node)):
            yield node.lineno, name


def _top(module: str, forbidden: frozenset[str]) -> str | None:
    top = module.split(".")[0]
    if top in forbidden:
        return top
    if "dagster" in forbidden and top.startswith("dagster_"):  # dagster_aws, dagster_postgres, … are Dagster too
        return top
    return None


def violations(package: str, forbidden: frozenset[str]) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imported_modules(path):
            if _top(module, forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


def test_the_scanner_sees_lazy_and_dynamic_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n"
                     "def f():\n    from vgos_app.render import money\n    import rich.table\n"
                     "    import importlib\n    importlib.import_module('dagster_aws.s3')\n"
                     "    importlib.import_module(f'connectors.psp.{x}')\n"
                     "from . import sibling\n")
    names = [m for _, m in sorted(imported_modules(probe))]
    assert names == ["os", "vgos_app.render", "rich.table", "importlib", "dagster_aws.s3", "connectors.psp."]
    assert [_top(m, KERNEL_FORBIDDEN) for m in names] == [None, "vgos_app", "rich", None, "dagster_aws", "connectors"]


def test_the_kernel_imports_no_outer_package_rich_or_dagster() -> None:
    assert (ROOT / "vgos" / "fold.py").is_file()
    assert violations("vgos", KERNEL_FORBIDDEN) == []


@pytest.mark.parametrize("package", OUTER)
def test_outer_packages_never_import_the_composition_root_or_the_dagster_layer(package: str) -> None:
    assert (ROOT / package / "__init__.py").is_file()
    assert violations(package, OUTER_FORBIDDEN) == []


def test_the_dagster_layer_never_imports_the_composition_root() -> None:
    """`vgos_assets` is loaded by Dagster (workspace.yaml) on its own: it calls the functions the commands call,
    never the commands."""
    assert violations("vgos_assets", frozenset({"vgos_app"})) == []


def test_every_command_module_lives_in_the_composition_root() -> None:
    """`vgos_app.cli` registers only its own modules: an outer package ships functions, not commands."""
    from vgos_app.cli import REGISTRARS

    assert REGISTRARS and all(name.startswith("vgos_app.cli_") for name in REGISTRARS)
    for name in REGISTRARS:
        assert (ROOT / (name.replace(".", "/") + ".py")).is_file(), name
    assert not [p for pkg in OUTER for p in (ROOT / pkg).rglob("cli.py")]
