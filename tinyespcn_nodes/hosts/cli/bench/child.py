"""Run one of the bench's child modules in a fresh process (its peak RSS and start-up are its own)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]  # the child imports this checkout's package, as `-m` from here


def child_argv(module: str, *args: str) -> list[str]:
    """`python -m tinyespcn_nodes.hosts.cli.bench.MODULE ARGS…`."""
    return [sys.executable, "-m", f"{__package__}.{module}", *args]


def run_child(module: str, *args: str) -> dict:
    """The JSON object a child module prints as its last line of output."""
    res = subprocess.run(child_argv(module, *args), capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(res.stdout.strip().splitlines()[-1])
