"""A small fake of ComfyUI 0.3.64's `comfy_api.latest` (V3 node schema), the part this pack uses, so the nodes
load and run in CI without ComfyUI. It follows comfy_api/latest/_io.py and nodes.py `load_custom_node` at
0.3.64: inputs serialise to the same V1 `INPUT_TYPES` tuples and `/object_info` entries (the opt-in real-host
test, tests/test_comfy_host.py, compares this fake's `GET_NODE_INFO_V1` with the real server's), and the
extension is loaded by the same rules (a module's `NODE_CLASS_MAPPINGS` wins over `comfy_entrypoint`).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import types
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


def _pruned(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


class Input:
    io_type = ""

    def __init__(self, id: str, display_name=None, optional=False, tooltip=None, lazy=None, default=None):
        self.id, self.display_name, self.optional, self.tooltip, self.lazy = id, display_name, optional, tooltip, lazy
        self.default = default

    def as_dict(self) -> dict:
        return _pruned({"display_name": self.display_name, "optional": self.optional, "tooltip": self.tooltip,
                        "lazy": self.lazy, "default": self.default})  # fmt: skip


class _Number(Input):
    def __init__(self, id: str, display_name=None, optional=False, tooltip=None, lazy=None, default=None,
                 min=None, max=None, step=None, **extra):  # fmt: skip
        super().__init__(id, display_name, optional, tooltip, lazy, default)
        self.min, self.max, self.step, self.extra = min, max, step, extra

    def as_dict(self) -> dict:
        return super().as_dict() | _pruned({"min": self.min, "max": self.max, "step": self.step, **self.extra})


class Output:
    io_type = ""

    def __init__(self, id=None, display_name=None, tooltip=None, is_output_list=False):
        self.id, self.display_name, self.tooltip, self.is_output_list = id, display_name, tooltip, is_output_list


def _comfy_type(io_type: str, input_cls: type = Input) -> type:
    return type(io_type, (), {"io_type": io_type, "Input": type("Input", (input_cls,), {"io_type": io_type}),
                              "Output": type("Output", (Output,), {"io_type": io_type})})  # fmt: skip


class _ComboInput(Input):
    io_type = "COMBO"

    def __init__(self, id: str, options=None, display_name=None, optional=False, tooltip=None, lazy=None,
                 default=None):  # fmt: skip
        super().__init__(id, display_name, optional, tooltip, lazy, default)
        self.options = options

    def as_dict(self) -> dict:
        return super().as_dict() | _pruned({"multiselect": False, "options": self.options})


@dataclass
class Schema:
    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    description: str = ""

    def v1_inputs(self) -> dict:
        spec: dict = {"required": {}}
        for i in self.inputs:
            entry = i.as_dict()
            entry.pop("optional", None)
            spec.setdefault("optional" if i.optional else "required", {})[i.id] = (i.io_type, entry)
        return spec


class NodeOutput:
    def __init__(self, *args: Any, ui=None):
        self.args, self.ui = args, ui

    def __getitem__(self, index):
        return self.args[index]


class ComfyNode:
    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs) -> NodeOutput:
        raise NotImplementedError

    @classmethod
    def validate_inputs(cls, **kwargs):
        raise NotImplementedError

    @classmethod
    def INPUT_TYPES(cls) -> dict:  # noqa: N802 (ComfyUI's name)
        return cls.define_schema().v1_inputs()

    @classmethod
    def GET_NODE_INFO_V1(cls) -> dict:  # noqa: N802
        """What `/object_info/<id>` shows (NodeInfoV1 at 0.3.64)."""
        s = cls.define_schema()
        inputs = s.v1_inputs()
        return {
            "input": inputs, "input_order": {k: list(v) for k, v in inputs.items()},
            "output": [o.io_type for o in s.outputs], "output_is_list": [o.is_output_list for o in s.outputs],
            "output_name": [o.display_name or o.io_type for o in s.outputs],
            "output_tooltips": [o.tooltip for o in s.outputs], "name": s.node_id, "display_name": s.display_name,
            "description": s.description, "python_module": getattr(cls, "RELATIVE_PYTHON_MODULE", "nodes"),
            "category": s.category, "output_node": False, "deprecated": False, "experimental": False,
            "api_node": False,
        }  # fmt: skip

    @classmethod
    def EXECUTE_NORMALIZED(cls, **kwargs) -> NodeOutput:  # noqa: N802
        out = cls.execute(**kwargs)
        return out if isinstance(out, NodeOutput) else NodeOutput(*out)

    @classmethod
    def validator(cls):
        """ComfyUI's `first_real_override(cls, "validate_inputs")`: the node's own, or None."""
        own = cls.validate_inputs.__func__ is not ComfyNode.validate_inputs.__func__
        return cls.validate_inputs if own else None


class ComfyExtension(ABC):
    async def on_load(self) -> None:  # noqa: B027 (optional hook, as in ComfyUI)
        pass

    @abstractmethod
    async def get_node_list(self) -> list[type[ComfyNode]]: ...


io = types.SimpleNamespace(
    ComfyNode=ComfyNode, Schema=Schema, NodeOutput=NodeOutput, Image=_comfy_type("IMAGE"),
    Int=_comfy_type("INT", _Number), Float=_comfy_type("FLOAT", _Number),
    Combo=types.SimpleNamespace(io_type="COMBO", Input=_ComboInput), Custom=lambda io_type: _comfy_type(io_type),
)  # fmt: skip


def install(monkeypatch=None) -> types.ModuleType:
    """Put the fake `comfy_api` and `comfy_api.latest` into sys.modules (undone with the monkeypatch, if any)."""
    pkg, latest = types.ModuleType("comfy_api"), types.ModuleType("comfy_api.latest")
    latest.io, latest.ComfyExtension, pkg.latest = io, ComfyExtension, latest
    for name, module in (("comfy_api", pkg), ("comfy_api.latest", latest)):
        if monkeypatch is None:
            sys.modules[name] = module
        else:
            monkeypatch.setitem(sys.modules, name, module)
    return latest


def load_nodes(module: types.ModuleType) -> tuple[dict, dict]:
    """nodes.py `load_custom_node` at 0.3.64 after the import: V1 mappings if the module has them, else the V3
    `comfy_entrypoint` → ComfyExtension → node list; returns (id → class, id → display name)."""
    if getattr(module, "NODE_CLASS_MAPPINGS", None) is not None:
        return dict(module.NODE_CLASS_MAPPINGS), dict(getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", {}))
    entry = module.comfy_entrypoint
    extension = asyncio.run(entry()) if inspect.iscoroutinefunction(entry) else entry()
    assert isinstance(extension, ComfyExtension)
    classes = asyncio.run(extension.get_node_list())
    schemas = [cls.define_schema() for cls in classes]
    return {s.node_id: c for s, c in zip(schemas, classes)}, {s.node_id: s.display_name for s in schemas}
