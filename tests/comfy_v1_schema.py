"""The V1 nodes' `/object_info`, recorded from a real ComfyUI 0.3.64 before the V3 port
(tests/data/comfy_v1_object_info.json), and what the V3 nodes must keep of it: ids, display names, categories,
outputs, every input's name, type, default and range, and the widget order saved UI workflows rely on."""

from __future__ import annotations

import json

from conftest import REPO

RECORDED = json.loads((REPO / "tests" / "data" / "comfy_v1_object_info.json").read_text())
# required → optional on purpose: the first release's workflows have no `precision` (it was an `fp16` widget),
# and ComfyUI refuses a prompt that lacks a required input; the widget order stays the same
MOVED_TO_OPTIONAL = {("TinyESPCN_ModelLoader", "precision")}


def _order(input_order: dict) -> list[str]:
    return [*input_order.get("required", []), *input_order.get("optional", [])]


def differences(node_id: str, info: dict) -> list[str]:
    """What the `/object_info` entry `info` of `node_id` changed from the V1 recording (empty = kept)."""
    want, found = RECORDED[node_id], []
    for key in ("display_name", "category", "description", "output", "output_name"):
        if info[key] != want[key]:
            found.append(f"{key}: {info[key]!r} != {want[key]!r}")
    if _order(info["input_order"]) != _order(want["input_order"]):
        found.append(f"widget order {info['input_order']} != {want['input_order']}")
    for name, rec in want["inputs"].items():
        category = "optional" if (node_id, name) in MOVED_TO_OPTIONAL else rec["category"]
        if name not in info["input"].get(category, {}):
            found.append(f"{name}: not a {category} input")
            continue
        io_type, options = info["input"][category][name][0], info["input"][category][name][1]
        got = {"category": rec["category"], "type": "COMBO" if isinstance(io_type, list) else io_type}
        got |= {k: options[k] for k in ("default", "min", "max", "step", "options") if k in rec}
        if got != rec:
            found.append(f"{name}: {got} != {rec}")
    return found
