"""Replace a generated block of a Markdown file, between `<!-- NAME:begin -->` and `<!-- NAME:end -->`."""

from __future__ import annotations

import re
from pathlib import Path

from ...core.files import write_text_atomic


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def replace_block(path: Path, name: str, body: str) -> None:
    begin, end = markers(name)
    text = path.read_text()
    if begin not in text or end not in text:
        raise ValueError(f"{path}: add {begin} and {end} where the generated table goes")
    block = f"{begin}\n{body.strip()}\n{end}"
    write_text_atomic(path, re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S))


def read_block(path: Path, name: str) -> str | None:
    begin, end = markers(name)
    match = re.search(re.escape(begin) + "\n(.*?)\n" + re.escape(end), path.read_text(), flags=re.S)
    return match.group(1) if match else None
