"""Where the read-only `../shared` reference folder is (benchmarks, training data, peer weights).

`TINYESPCN_SHARED` overrides it; otherwise it is the `shared` folder beside the repository checkout.
Nothing at run time needs it: benchmarks, the trainer and tests use it when present and say so when not.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "TINYESPCN_SHARED"
_CHECKOUT = Path(__file__).resolve().parents[2]


def shared_root() -> Path:
    override = os.environ.get(ENV)
    return Path(override).expanduser() if override else _CHECKOUT.parent / "shared"


def shared_path(*parts: str) -> Path:
    return shared_root().joinpath(*parts)
