"""Render the reST cross-reference roles of privdomain's docstrings as links in the site.

Docstrings say ``:class:`Customer``` or ``:meth:`~privdomain.Pool.snapshot``` so that they read
well in ``help()`` and IDEs. Markdown leaves such a role as text before inline code; this hook
turns it into a cross-reference that mkdocs-autorefs resolves when the target is documented on
the site, and into plain inline code when it is not. A leading ``~`` shows only the last part
of the name, as in Sphinx.

A bare name is looked up the way a reader would: as a member of the object whose docstring
mentions it or of one of its parents (``:meth:`snapshot``` in the docstring of ``Pool``), then as
the one object of that name on the page, then as a name exported by the package root or an
error class of ``privdomain.errors``.
"""

from __future__ import annotations

import bisect
import html
import re
from typing import Any

_ROLE = re.compile(
    r":(?:py:)?(?:mod|class|func|meth|attr|data|exc|obj|const):"
    r"<code>(?P<tilde>~?)(?P<name>[\w.]+)</code>"
)
_OBJECT = re.compile(r'\bid="(?P<id>privdomain(?:\.\w+)*)"')


def on_page_content(html_text: str, **kwargs: Any) -> str:
    """The mkdocs hook: rewrite every role of the page's HTML."""
    objects = [(m.start(), m["id"]) for m in _OBJECT.finditer(html_text)]
    starts = [start for start, _ in objects]
    on_page = {identifier for _, identifier in objects}
    by_last_part: dict[str, set[str]] = {}
    for identifier in on_page:
        by_last_part.setdefault(identifier.rpartition(".")[2], set()).add(identifier)

    def target(name: str, position: int) -> str:
        if name.startswith("privdomain"):
            return name
        at = bisect.bisect_left(starts, position) - 1
        scope = objects[at][1] if at >= 0 else "privdomain"
        while scope:  # a member of the object, of its parent, ... on this page
            if f"{scope}.{name}" in on_page:
                return f"{scope}.{name}"
            scope = scope.rpartition(".")[0]
        same_name = by_last_part.get(name.rpartition(".")[2], set())
        if "." not in name and len(same_name) == 1:
            return next(iter(same_name))
        return f"privdomain.{name}"  # re-exported from the package root, on another page

    def errors_module(name: str) -> str:
        return f"privdomain.errors.{name.rpartition('.')[2]}"

    def reference(match: re.Match[str]) -> str:
        name = match["name"]
        shown = name.rsplit(".", 1)[-1] if match["tilde"] else name
        identifier = html.escape(target(name, match.start()))
        fallback = html.escape(errors_module(name))  # errors are documented on their own page
        return (
            f'<autoref identifier="{identifier}" slug="{fallback}" optional>'
            f"<code>{html.escape(shown)}</code></autoref>"
        )

    return _ROLE.sub(reference, html_text)
