"""The layering rule of docs (architecture): core → engine → io → hosts, imports point down only, no cycles.

Every module's imports (top level and inside functions alike) are read with `ast`, so the rule holds for lazy
imports too. KNOWN lists the violations still in the code; a new one fails, and so does a listed one once fixed
(delete its line then), so the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGES = ("tinyespcn_nodes", "trainer")
RANK = {"core": 0, "engine": 1, "io": 2, "hosts": 3}
ROOT_RANK = 4  # the package root (ComfyUI's entry point) and __main__ sit above every host
# the CLI's install-comfyui copies the ComfyUI pack (plain files); napari's fine-tune talks to one trainer facade
ALLOWED = {("tinyespcn_nodes.hosts.cli", "tinyespcn_nodes.hosts.comfy.install")}
TRAINER_FACADE = "trainer.api"
FACADE_USERS = ("tinyespcn_nodes.hosts.napari",)

KNOWN: dict[tuple[str, str], str] = {
    ("tinyespcn_nodes.hosts.napari.finetune", "trainer.config"): "until trainer.api",
    ("tinyespcn_nodes.hosts.napari.finetune", "trainer.loop"): "until trainer.api",
    ("tinyespcn_nodes.hosts.napari.finetune", "trainer.models"): "until trainer.api",
    ("tinyespcn_nodes.core.pixels", "tinyespcn_nodes.core.tiling"): "cycle: store() moves to pixels",
    ("tinyespcn_nodes.core.tiling", "tinyespcn_nodes.core.pixels"): "cycle: store() moves to pixels",
}


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _ours(name: str) -> str | None:
    """The longest known module that `name` names or lies in (`pkg.mod.attr` → `pkg.mod`)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str) -> set[str]:
    path = MODULES[module]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out.update(t for t in map(_ours, names) if t is not None and t != module)
    return out


GRAPH = {m: imports(m) for m in MODULES}


def _place(module: str) -> tuple[str, int | None, str | None]:
    """(top package, rank, host name) of a module."""
    parts = module.split(".")
    if parts[0] == "trainer":
        return "trainer", None, None
    if len(parts) == 1 or parts[1] == "__main__":
        return "tinyespcn_nodes", ROOT_RANK, None
    layer = parts[1]
    host = parts[2] if layer == "hosts" and len(parts) > 2 else None
    return "tinyespcn_nodes", RANK.get(layer, 0), host


def _forbidden(src: str, dst: str) -> bool:
    if any(src.startswith(a) and dst == b for a, b in ALLOWED):
        return False
    (src_top, src_rank, src_host), (dst_top, dst_rank, dst_host) = _place(src), _place(dst)
    if src_top == "trainer":  # the trainer uses core, engine and io, never a host or the ComfyUI entry
        return dst_top != "trainer" and dst_rank >= RANK["hosts"]
    if dst_top == "trainer":
        return not (dst == TRAINER_FACADE and src.startswith(FACADE_USERS))
    if dst_rank > src_rank:
        return True
    return src_host is not None and dst_host is not None and src_host != dst_host


def upward_imports() -> set[tuple[str, str]]:
    return {(src, dst) for src, targets in GRAPH.items() for dst in targets if _forbidden(src, dst)}


def cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def _cycle_edges() -> set[tuple[str, str]]:
    return {(a, b) for comp in cycles() for a in comp for b in GRAPH[a] if b in comp}


def test_the_reader_sees_lazy_and_relative_imports():
    assert "tinyespcn_nodes.core.tiling" in GRAPH["tinyespcn_nodes.engine.job"]
    assert "tinyespcn_nodes.hosts.cli.main" in GRAPH["tinyespcn_nodes.__main__"]
    assert "tinyespcn_nodes.hosts.comfy.nodes" in GRAPH["tinyespcn_nodes"]


def test_the_rule_catches_an_upward_import_and_a_cycle():
    assert _forbidden("tinyespcn_nodes.core.tiling", "tinyespcn_nodes.engine.job")
    assert _forbidden("tinyespcn_nodes.io.tiff", "tinyespcn_nodes.hosts.cli.main")
    assert _forbidden("trainer.sources", "tinyespcn_nodes.hosts.cli.main")
    assert _forbidden("tinyespcn_nodes.hosts.napari.widgets", "tinyespcn_nodes.hosts.comfy.nodes")
    assert _forbidden("tinyespcn_nodes.hosts.napari.finetune", "trainer.loop")
    assert not _forbidden("tinyespcn_nodes.hosts.napari.finetune", "trainer.api")
    assert not _forbidden("tinyespcn_nodes.hosts.cli.main", "tinyespcn_nodes.hosts.comfy.install")
    assert not _forbidden("trainer.sources", "tinyespcn_nodes.io.zarr_job")


def test_imports_point_down_only():
    found = upward_imports() | _cycle_edges()
    assert not sorted(found - KNOWN.keys()), "new upward import or cycle (see docs: architecture)"
    assert not sorted(KNOWN.keys() - found), "fixed: delete these lines from KNOWN"
