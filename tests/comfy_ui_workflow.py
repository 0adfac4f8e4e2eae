"""A saved ComfyUI UI workflow (the frontend's graph JSON) → the API prompt the frontend would queue, for the
nodes of workflows/: each node's `widgets_values` fill its widget inputs in `/object_info` input order
(required, then optional; missing trailing values keep the node's defaults), and `links` become
`[origin id, origin slot]`. Enough for plain widgets and sockets; no converted widgets or seed controls."""

from __future__ import annotations

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def _widget_names(info: dict) -> list[str]:
    names = []
    for category in ("required", "optional"):
        for name in info["input_order"].get(category, []):
            io_type = info["input"][category][name][0]
            if isinstance(io_type, list) or io_type in WIDGET_TYPES:
                names.append(name)
    return names


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    """`object_info`: node type → its `/object_info` entry (at least `input` and `input_order`)."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        info = object_info[node["type"]]
        inputs = dict(zip(_widget_names(info), node.get("widgets_values") or []))
        for socket in node.get("inputs", []):
            if socket.get("link") is not None:
                _, origin, slot, *_ = links[socket["link"]]
                inputs[socket["name"]] = [str(origin), slot]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt
