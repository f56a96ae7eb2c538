"""The import layers of the library: data flows one way (DESIGN.md).

The domain never imports a strategy; strategies read snapshots and never import the pool, so a
worker can run them on the snapshot of a partition without a pool at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parent.parent / "privdomain"
STRATEGIES = ("layering", "lifecycle", "value", "nudges", "referral", "metrics")
POOL_MODULES = {"privdomain.domain.pool", "privdomain.domain._profile"}


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute, including names imported from a package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules_under(package: str) -> list[Path]:
    root = LIBRARY / package
    return sorted(root.rglob("*.py")) if root.is_dir() else []


@pytest.mark.parametrize("path", modules_under("domain"), ids=lambda p: p.name)
def test_the_domain_imports_no_strategy(path: Path) -> None:
    strategies = {f"privdomain.{name}" for name in (*STRATEGIES, "simulate", "demo")}
    bad = {m for m in imported_modules(path) if any(m.startswith(s) for s in strategies)}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path",
    [p for package in STRATEGIES for p in modules_under(package)],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_strategies_never_import_the_pool(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m in POOL_MODULES or m == "privdomain.Pool"}
    assert not bad, f"{path.parent.name}/{path.name} imports {sorted(bad)}"


def test_the_checker_sees_a_pool_import(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("from privdomain.domain.pool import Pool\nfrom privdomain import Pool\n")
    assert {"privdomain.domain.pool", "privdomain.Pool"} <= imported_modules(source)
