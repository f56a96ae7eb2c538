"""Every code example of the documentation runs, and so does every docstring example.

Pages
    Every ```` ```python ```` fenced block of every ``docs/**/*.md`` page and of ``README.md`` is
    executed. The blocks of one page run in order in one fresh namespace, like the cells of a
    notebook, so a later block may use what an earlier one defined. Each page is one test case,
    named by its path. Blocks run in a temporary working directory with matplotlib on the
    non-interactive ``Agg`` backend.

    Shown output is checked on pages that ask for it with the line
    ``<!-- docs-test: check-output -->`` (an HTML comment: invisible on the site and on GitHub).
    On such a page, a top-level statement that prints is followed by what it prints as a
    comment, either at the end of its last line or on the comment lines right after it::

        print(snap.orders)  # [2 0 0]
        print(report)
        # IngestReport(customers: +3 added, ...
        #   0 duplicates; rejected: 0 (none))

    The comment must equal the printed text up to whitespace (runs of spaces and line breaks
    compare equal, so long output may be wrapped). A statement that prints without such a
    comment is not checked; a comment on a statement that prints nothing is prose. On other
    pages the blocks only have to run.

    The one way to keep a block from running is to give it the title ``not run``, which the
    rendered page shows above the block so that readers know it too::

        ```python title="not run"
        pool.ingest(read_everything_from_production())
        ```

    Blocks in any other language (``bash``, ``text``, ``pycon``...) are not Python and are not
    run. A page with no runnable block passes trivially.

Docstrings
    Every module of ``privdomain`` whose source holds a ``>>>`` example is run through
    :func:`doctest.testmod` with ``NORMALIZE_WHITESPACE | ELLIPSIS``; any failure fails the test.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import importlib
import io
import os
import re
import sys
import textwrap
import tokenize
import types
from pathlib import Path

import pytest

os.environ["MPLBACKEND"] = "Agg"  # before anything imports matplotlib.pyplot

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "privdomain"

#: An opening fence: indentation, three or more backticks, the info string.
_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$")
_NOT_RUN = re.compile(r"""title\s*=\s*["']not run["']""")
CHECK_OUTPUT = "<!-- docs-test: check-output -->"


def _pages() -> list[Path]:
    pages = sorted(DOCS.rglob("*.md"))
    readme = ROOT / "README.md"
    return [readme, *pages] if readme.exists() else pages


def _page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(line number, code, runs)`` of every Python fenced block of a Markdown text.

    A block is Python when the first word of its info string is ``python`` or ``py`` (with or
    without a leading dot or braces, as in ``{.python}``); ``runs`` is false only for blocks titled
    ``not run``. Indented fences (inside admonitions or lists) are dedented.
    """
    blocks: list[tuple[int, str, bool]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _OPEN.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].strip()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines):
            line = lines[i]
            if line.strip().startswith(fence) and line.strip().strip("`") == "":
                break
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        else:
            raise AssertionError(f"unclosed code fence opened on line {start + 1}")
        i += 1
        words = info.strip("{}").split()
        language = words[0].lstrip(".").lower() if words else ""
        if language in ("python", "py"):
            code = textwrap.dedent("\n".join(body))
            blocks.append((start + 1, code, _NOT_RUN.search(info) is None))
    return blocks


def _comments(code: str) -> dict[int, tuple[str, bool]]:
    """Comment text by line number, and whether the comment is alone on its line."""
    found: dict[int, tuple[str, bool]] = {}
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    for token in tokens:
        if token.type == tokenize.COMMENT:
            alone = token.line.strip().startswith("#")
            found[token.start[0]] = (token.string[1:], alone)
    return found


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def run_block(
    code: str, namespace: dict[str, object], where: str, *, check_output: bool = True
) -> None:
    """Run ``code`` statement by statement; check printed output against its comments."""
    try:
        tree = ast.parse(code, filename=where)
    except SyntaxError as exc:
        raise AssertionError(f"{where}: the block is not valid Python: {exc}") from exc
    comments = _comments(code)
    block_line = int(where.rsplit(":", 1)[1])
    for statement in tree.body:
        first = statement.lineno
        last = statement.end_lineno or first
        at = f"{where.rsplit(':', 1)[0]}:{block_line + first}"
        compiled = compile(ast.Module(body=[statement], type_ignores=[]), at, "exec")
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compiled, namespace)
        except Exception as exc:
            raise AssertionError(
                f"the statement at {at} failed: {type(exc).__name__}: {exc}"
            ) from exc
        output = printed.getvalue()
        if not output or not check_output:
            continue
        shown: list[str] = []
        if last in comments and not comments[last][1]:
            shown.append(comments[last][0])
        following = last + 1
        while following in comments and comments[following][1]:
            shown.append(comments[following][0])
            following += 1
        if shown and _squeeze(" ".join(shown)) != _squeeze(output):
            raise AssertionError(
                f"the output shown at {at} is not what the code prints:\n"
                f"shown:   {_squeeze(' '.join(shown))}\nprinted: {_squeeze(output)}"
            )


def test_fences_are_found() -> None:
    """The extractor itself: languages, titles, indentation and longer fences."""
    text = (
        "```python\na = 1\n```\n"
        "```bash\nmake demo\n```\n"
        '```python title="not run"\nboom()\n```\n'
        '!!! note\n    ```py title="example.py"\n    b = a + 1\n    ```\n'
        "````python\n```\nc = 2\n````\n"
    )
    found = python_blocks(text)
    assert [(code.strip(), runs) for _, code, runs in found] == [
        ("a = 1", True),
        ("boom()", False),
        ("b = a + 1", True),
        ("```\nc = 2", True),
    ]


def test_shown_output_is_checked() -> None:
    namespace: dict[str, object] = {}
    run_block("x = [1, 2]\nprint(x)  # [1, 2]\nprint(len(x))\n# 2\nprint(x)\n", namespace, "p:1")
    with pytest.raises(AssertionError, match="not what the code prints"):
        run_block("print(3)  # 4\n", namespace, "p:1")
    run_block("print(3)  # three\n", namespace, "p:1", check_output=False)
    with pytest.raises(AssertionError, match="failed: ZeroDivisionError"):
        run_block("1 / 0\n", namespace, "p:1")


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_page_examples_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = page.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    runnable = [(line, code) for line, code, runs in blocks if runs]
    if not runnable:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:  # matplotlib is an extra; a page that needs it will say so by failing
        pass
    monkeypatch.chdir(tmp_path)
    # A real module, so that classes defined in a page can be pickled and introspected.
    name = "docs_page_" + re.sub(r"\W", "_", _page_id(page))
    module = types.ModuleType(name)
    module.__file__ = str(page)
    monkeypatch.setitem(sys.modules, name, module)
    for line, code in runnable:
        where = f"{_page_id(page)}:{line}"
        run_block(code, module.__dict__, where, check_output=CHECK_OUTPUT in text)
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except ImportError:
        pass
    capsys.readouterr()


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def test_some_modules_have_examples() -> None:
    assert "privdomain.domain.pool" in _modules_with_examples()


@pytest.mark.parametrize("module_name", _modules_with_examples())
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
        verbose=False,
        report=True,
    )
    assert result.attempted > 0, f"{module_name} has '>>>' in its source but no doctest ran"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
