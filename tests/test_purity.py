"""The architecture rule "pure core": nothing under privdomain/ opens files, sockets or clocks by
itself, reads the environment or draws from a global random state. "Now" is an argument
(``as_of``) and randomness takes a seed or a ``numpy.random.Generator``.

Only the command line (``privdomain/cli.py``, ``privdomain/__main__.py``) may touch the outside
world. The rule is checked on the source with ``ast``, so it covers code paths no test runs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "privdomain"
# the process boundary (the command line) and the cluster boundary (the Dask adapter, which
# reads and writes the Parquet and spill files a host names), relative to PACKAGE; nothing in
# the core imports them
EXCLUDED = {"cli.py", "__main__.py", "dask.py"}

FORBIDDEN_MODULES = {
    "socket": "network",
    "sqlite3": "storage",
    "subprocess": "processes",
    "requests": "network",
    "urllib": "network",
    "http": "network",
    "time": "the clock",
    "random": "global random state (use numpy.random.Generator)",
}
CLOCK_CALLS = {"now", "utcnow", "today"}
CLOCK_CLASSES = {"datetime", "date"}
ENVIRONMENT = {"environ", "getenv", "putenv", "environb"}
OS_IO = {"open", "popen", "system", "fdopen"}
# what numpy.random may be used for: explicit generators and seeds, never the global state
GENERATOR_API = {
    "default_rng",
    "Generator",
    "SeedSequence",
    "BitGenerator",
    "PCG64",
    "PCG64DXSM",
    "Philox",
    "SFC64",
    "MT19937",
}


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def impurities(source: str) -> list[str]:
    """Every use of the outside world in ``source``, as ``"line: what"``."""
    tree = ast.parse(source)
    found: list[str] = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{getattr(node, 'lineno', '?')}: {what}")

    # names bound to numpy and numpy.random, wherever they are imported
    numpy_names, random_names = {"numpy"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    numpy_names.add(alias.asname or "numpy")
                elif alias.name == "numpy.random" and alias.asname:
                    random_names.add(alias.asname)
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy" and not node.level:
            random_names.update(a.asname or a.name for a in node.names if a.name == "random")
    random_names |= {f"{n}.random" for n in numpy_names}

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in FORBIDDEN_MODULES:
                    report(node, f"import {alias.name} ({FORBIDDEN_MODULES[top]})")
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            top = node.module.split(".")[0]
            names = {a.name for a in node.names}
            if top in FORBIDDEN_MODULES:
                report(node, f"from {node.module} import ... ({FORBIDDEN_MODULES[top]})")
            if node.module == "os" and names & (ENVIRONMENT | OS_IO):
                report(node, f"from os import {sorted(names & (ENVIRONMENT | OS_IO))}")
            if node.module == "numpy.random" and names - GENERATOR_API:
                report(node, f"numpy.random global state: {sorted(names - GENERATOR_API)}")
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted is None:
                continue
            owner, _, attr = dotted.rpartition(".")
            if owner == "os" and attr in ENVIRONMENT | OS_IO:
                report(node, f"{dotted} (environment or I/O)")
            elif owner == "io" and attr == "open":
                report(node, f"{dotted} (files)")
            elif owner in random_names and attr not in GENERATOR_API:
                report(node, f"{dotted} (numpy's global random state)")
        elif isinstance(node, ast.Call):
            func = node.func
            dotted = _dotted(func) or ""
            owner, _, attr = dotted.rpartition(".")
            if isinstance(func, ast.Name) and func.id == "open":
                report(node, "open() (files)")
            elif attr in CLOCK_CALLS and owner.rpartition(".")[2] in CLOCK_CLASSES:
                report(node, f"{dotted}() (the clock)")
            elif attr == "datetime64" and any(
                isinstance(a, ast.Constant) and a.value in ("now", "today") for a in node.args
            ):
                report(node, "datetime64('now') (the clock)")
            elif (
                owner in random_names and attr == "default_rng" and not (node.args or node.keywords)
            ):
                report(node, f"{dotted}() without a seed (entropy from the OS)")
    return found


def library_modules() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).as_posix() not in EXCLUDED
    )


# ---------------------------------------------------------------------------- the checker itself
@pytest.mark.parametrize(
    "source",
    [
        "import socket",
        "import sqlite3 as db",
        "import subprocess",
        "import requests",
        "import urllib.request",
        "from urllib.parse import quote",
        "from http import client",
        "import time",
        "from time import perf_counter",
        "import random",
        "from random import choice",
        "import os\nos.environ['X']",
        "import os\nos.getenv('X')",
        "from os import environ",
        "import os\nos.system('ls')",
        "open('data.csv')",
        "with open(path) as f: pass",
        "import io\nio.open('f')",
        "import datetime\ndatetime.datetime.now()",
        "import datetime as dt\ndt.datetime.now(dt.UTC)",
        "from datetime import datetime\ndatetime.utcnow()",
        "from datetime import date\ndate.today()",
        "import datetime as dt\ndt.date.today()",
        "import numpy as np\nnp.datetime64('now')",
        "import numpy as np\nnp.random.seed(0)",
        "import numpy as np\nnp.random.rand(3)",
        "import numpy as np\nnp.random.randn(3)",
        "import numpy as np\nnp.random.randint(0, 9)",
        "import numpy as np\nnp.random.choice([1, 2])",
        "import numpy as np\nnp.random.shuffle(x)",
        "import numpy\nnumpy.random.random()",
        "import numpy.random as npr\nnpr.normal()",
        "from numpy import random\nrandom.uniform()",
        "from numpy.random import rand",
        "import numpy as np\nnp.random.default_rng()",
        "def f():\n    import numpy as xp\n    return xp.random.poisson(3)",
    ],
)
def test_the_checker_finds_impurities(source: str) -> None:
    assert impurities(source), source


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\nrng = np.random.default_rng(42)",
        "import numpy as np\nrng = np.random.default_rng(seed)",
        "import numpy as np\nrng = np.random.default_rng(seed=seed)",
        "import numpy as np\ndef f(rng: np.random.Generator): return rng.random(3)",
        "import numpy as np\nnp.random.SeedSequence(7).spawn(2)",
        "import datetime as dt\ndt.datetime(2026, 1, 1, tzinfo=dt.UTC)",
        "import datetime as dt\nx = as_of - dt.timedelta(days=1)",
        "from privdomain.domain._time import epoch_seconds",
        "from . import random_helpers",
        "import importlib\nimportlib.import_module('pandas')",
        "snapshot.recency_days.mean()",
        "rng.choice(ids, size=3)",
    ],
)
def test_the_checker_lets_pure_code_pass(source: str) -> None:
    assert impurities(source) == []


# ---------------------------------------------------------------------------- the library
def test_the_library_has_modules_to_check() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in library_modules()}
    assert {"domain/pool.py", "domain/snapshot.py", "ports.py", "memory.py"} <= names
    assert not names & EXCLUDED


@pytest.mark.parametrize(
    "module", library_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix()
)
def test_library_modules_are_pure(module: Path) -> None:
    assert impurities(module.read_text(encoding="utf-8")) == []


# ---------------------------------------------------------------------------- optional extras
@pytest.fixture(scope="module")
def imported_by_the_library() -> set[str]:
    """Top-level modules loaded by importing privdomain and every module in it (but the CLI)."""
    modules = ["privdomain"] + [
        "privdomain."
        + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for p in library_modules()
        if p.name != "__init__.py" or p.parent != PACKAGE
    ]
    script = "\n".join(
        ["import importlib, sys"]
        + [f"importlib.import_module({m!r})" for m in modules]
        + ["print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"]
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.split())


@pytest.fixture(scope="module")
def imported_by_the_core() -> set[str]:
    """Top-level modules loaded by `import privdomain` and its domain, ports and simulator."""
    core = ["privdomain", "privdomain.ports", "privdomain.memory", "privdomain.simulate"]
    core += ["privdomain.metrics", "privdomain.demo", "privdomain.errors"]
    script = "\n".join(
        ["import importlib, sys"]
        + [f"importlib.import_module({m!r})" for m in core]
        + ["print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"]
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.split())


@pytest.mark.parametrize("extra", ["pandas", "matplotlib", "dask", "tqdm"])
def test_optional_extras_are_not_imported_by_the_library(
    imported_by_the_library: set[str], imported_by_the_core: set[str], extra: str
) -> None:
    assert "privdomain" in imported_by_the_library
    # scikit-learn itself imports pandas when it is installed, so the strategy packages that use
    # scikit-learn may bring pandas in; the core never does
    if extra != "pandas":
        assert extra not in imported_by_the_library
    assert extra not in imported_by_the_core


def test_importing_the_core_stays_light(imported_by_the_core: set[str]) -> None:
    """`import privdomain` needs numpy and attrs only; scikit-learn and scipy load on use."""
    assert {"sklearn", "scipy", "pandas", "matplotlib"}.isdisjoint(imported_by_the_core)
