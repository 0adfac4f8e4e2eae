"""The faces table of `trainer bench --photo-only`: held-out faces under the real-photo cases.

Sets: `Faces` (the 20 CelebA-HQ faces the portrait fine-tunes hold out) and `WildFaces` (7 face crops from
another source), 512², each degraded once per case (`photo_cases.CASES`) and shared by every row. Rows per
scale: MATLAB bicubic, the default clean file, the photo file (strength 1) and every bundled portrait file,
read from the catalog (any family whose name holds `portrait`), so new or renamed portrait files need no
change here. Cells: Y-PSNR (gain over bicubic); in the JPEG cases also the block-grid score (blockiness.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from .evaluate import Pair
from .photo_bench import GRID_TEXT, case_cells
from .photo_cases import CASES
from .quality_bench import Row, bicubic_row

FACE_SETS = ("Faces", "WildFaces")


def portrait_names(table: dict[str, Path], scale: int) -> list[str]:
    """The bundled portrait files at this scale (`portrait-x2`, `balanced-portrait-x2`, ...), sorted."""
    return sorted(n for n in table if n.endswith(f"-x{scale}") and "portrait" in n.rpartition("-x")[0])


def face_rows(scale: int, device: torch.device, table: dict[str, Path] | None = None) -> list[Row]:
    """bicubic, the default clean file, the photo file and the portrait files present at this scale."""
    from tinyespcn_nodes.core.catalog import bundled, bundled_name, default_name

    from .quality_bench import _runner, eval_job

    table = bundled() if table is None else table
    rows = [bicubic_row(scale)]
    wanted = [bundled_name(default_name(scale), table), f"photo-x{scale}", *portrait_names(table, scale)]
    for name in dict.fromkeys(n for n in wanted if n in table):
        rows.append(Row(name, "model", scale, _runner(eval_job(table[name], scale, device))))
    return rows


def load_face_sets(scale: int, limit: int = 0) -> dict[str, list[Pair]]:
    """The face sets present in ../shared (none when the face data is missing)."""
    from .bench_sets import available_sets, load_set

    return {name: load_set(name, scale, limit=limit) for name in available_sets() if name in FACE_SETS}


def faces_table(
    device: torch.device,
    scales: list[int],
    load: Callable[[int], dict[str, list[Pair]]] = load_face_sets,
    table: dict[str, Path] | None = None,
    log=print,
) -> str:
    """Markdown: per scale one table, rows grouped by face set, columns the degradation cases ('' = no faces)."""
    out: list[str] = []
    for scale in scales:
        sets = load(scale)
        if not sets:
            log("faces table left out: no Faces / WildFaces in ../shared/data")
            return ""
        rows = face_rows(scale, device, table)
        lines = []
        for set_name, pairs in sets.items():
            cells = _set_cells(rows, pairs, scale)
            lines += [f"| {set_name} ({len(pairs)}) | {name} | " + " | ".join(v) + " |" for name, v in cells.items()]
            log(f"faces x{scale} {set_name}: {len(pairs)} faces, {len(rows)} rows")
        out += [
            f"**x{scale}, faces**",
            "",
            "| Set | Upscaler | " + " | ".join(CASES) + " |",
            "|---|---|" + "---:|" * len(CASES),
            *lines,
            "",
        ]
    intro = (
        "Held-out faces: `Faces` = the 20 CelebA-HQ faces the portrait fine-tunes hold out, `WildFaces` = face "
        "crops of the 7 portraits_wild photos (never trained on), both 512², under the same cases (one degraded "
        "set per case for every row). Rows: bicubic, the default clean file, the photo file at strength 1 and "
        "every bundled portrait file. Cells: Y-PSNR dB (gain over bicubic). " + GRID_TEXT + "."
    )
    return "\n".join([intro, "", *out]).strip()


def _set_cells(rows: list[Row], pairs: list[Pair], scale: int) -> dict[str, list[str]]:
    return case_cells(rows, pairs, scale, None, full=False)
