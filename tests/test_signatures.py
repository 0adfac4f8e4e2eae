"""No function in the package takes more than 8 parameters (issue 34): related arguments travel as one
small frozen dataclass (`UpscaleOptions`, `TileOptions`, `ZarrOutput` …) instead of a long list."""

from __future__ import annotations

import ast

from conftest import REPO

MAX_PARAMETERS = 8


def parameter_count(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Every parameter a caller can pass (`*args` and `**kwargs` count one each); a method's self/cls not."""
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
    if names and names[0] in ("self", "cls"):
        names.pop(0)
    return len(names)


def _too_long(source: str) -> list[tuple[str, int]]:
    tree = ast.parse(source)
    nodes = (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return [(n.name, parameter_count(n)) for n in nodes if parameter_count(n) > MAX_PARAMETERS]


def test_the_count_sees_every_kind_of_parameter():
    source = "def f(a, /, b, *c, d, e=1, **f): pass\nclass K:\n    def m(self, a, b): pass\n"
    counts = {n.name: parameter_count(n) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
    assert counts == {"f": 6, "m": 2}
    assert _too_long("def g(a, b, c, d, e, f, g, h, *, i=0): pass") == [("g", 9)]
    assert _too_long("def g(a, b, c, d, e, f, g, h): pass") == []


def test_no_function_in_the_package_takes_more_than_8_parameters():
    found = []
    for path in sorted((REPO / "tinyespcn_nodes").rglob("*.py")):
        for name, count in _too_long(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(REPO)}: {name} takes {count}")
    assert not found, "more than 8 parameters (group them in a frozen dataclass):\n" + "\n".join(found)
