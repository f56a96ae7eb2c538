"""The reference pages show each parameter's default as the docstring renders it: it must be the
default of the signature.

mkdocstrings reads numpy docstrings with griffe, which takes the *first* value of a choice set
(``period : {"D", "h", "W", "M"}``) as the default, and gives every name of a grouped line
(``a, b : int``) the default of the first. Both can contradict the signature; this test parses
every public function, method and class of the package as the site does and compares.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

griffe = pytest.importorskip("griffe")

ROOT = Path(__file__).resolve().parent.parent


def _value(text: Any) -> tuple[str, Any] | None:
    """A default as the docs show it, comparable: a Python literal when it is one."""
    if text is None:
        return None  # no default: a required parameter
    source = str(text)
    try:
        return ("literal", ast.literal_eval(source))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ("expression", source.replace("'", '"'))


def _public(obj: Any) -> Iterator[Any]:
    for name, member in obj.members.items():
        if member.is_alias or (name.startswith("_") and not member.is_module):
            continue
        yield member
        if member.is_module or member.is_class:
            yield from _public(member)


def _signature(obj: Any) -> Any:
    if obj.is_function:
        return obj.parameters
    init = obj.members.get("__init__")
    if init is None:  # inherited: the class's page merges its base's __init__
        try:
            init = obj.all_members.get("__init__")
            init = None if init is None else init.final_target  # inherited members are aliases
        except griffe.AliasResolutionError:  # a base outside the package: nothing to compare
            init = None
    if init is None or init.is_alias or not init.is_function:
        return None  # attrs classes: the signature is generated, the docs show attributes
    return init.parameters


def mismatches(module: Any) -> list[str]:
    """Every parameter whose rendered default differs from its signature's, as text."""
    found = []
    for obj in [module, *_public(module)]:
        if not (obj.is_function or obj.is_class) or obj.docstring is None:
            continue
        signature = _signature(obj)
        if signature is None:
            continue
        for section in obj.docstring.parse("numpy", warnings=False):
            if section.kind.value != "parameters":
                continue
            for parameter in section.value:
                if parameter.name not in signature:
                    continue
                shown = _value(parameter.value)
                real = _value(signature[parameter.name].default)
                if shown != real:
                    found.append(
                        f"{obj.path}({parameter.name}): the docs show "
                        f"{'no default' if shown is None else parameter.value}, the signature "
                        f"has {'none' if real is None else signature[parameter.name].default}"
                    )
    return found


def test_rendered_defaults_match_the_signatures() -> None:
    package = griffe.load(
        "privdomain",
        search_paths=[str(ROOT)],
        docstring_parser="numpy",
        resolve_aliases=False,
    )
    assert mismatches(package) == []


@pytest.mark.parametrize(
    ("docstring_line", "signature", "wrong"),
    [
        ('period : {"h", "D", "W"}', 'period="D"', True),
        ('period : {"D", "h", "W"}', 'period="D"', False),
        ('period : {"D", "h"}', "period", True),  # a required choice shown with a default
        ('period : {None, "D", "h"}', "period=None", False),
        ("period : str, default 'W'", 'period="D"', True),
        ("period : str, optional", 'period="D"', False),
        ("period, size : int", "period=1, size=2", True),  # both shown with period's default
    ],
)
def test_the_check_catches_what_the_site_renders_wrong(
    docstring_line: str, signature: str, wrong: bool
) -> None:
    code = f'''
def f({signature}):
    """Summary.

    Parameters
    ----------
    {docstring_line}
        What it is.
    """
'''
    with griffe.temporary_visited_module(code, docstring_parser="numpy") as module:
        assert bool(mismatches(module)) is wrong


def test_an_inherited_init_is_checked_against_the_class_docstring() -> None:
    code = '''
class Base:
    def __init__(self, unit="D"):
        self.unit = unit


class Model(Base):
    """Summary.

    Parameters
    ----------
    unit : {"h", "D"}
        The unit.
    """
'''
    with griffe.temporary_visited_module(code, docstring_parser="numpy") as module:
        (message,) = mismatches(module)
    assert "Model(unit): the docs show" in message
