"""The real-photo table of `trainer bench`: degraded held-out photos × upscalers, Y-PSNR / SSIM / LPIPS.

Inputs: the validation half of `trainer photo-split` (photos no model trained on; never a benchmark set),
each degraded as `photo_cases.CASES` says. Rows per scale with a photo file: MATLAB bicubic, the default
clean file (`general-xN`), each photo file (`photo-xN`, `photo-fast-xN`) at restoration strength 0 (its clean
partner), 0.5 and 1, and
OpenCV's ESPCN when `cv2.dnn_superres` and its .pb are there. The block goes into the model card and the
README between `<!-- photo-bench:begin -->` and `<!-- photo-bench:end -->`.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .blockiness import JPEG_BLOCK
from .evaluate import load_pairs
from .lpips import LPIPS, TargetCache
from .photo_cases import CASES, SPECS, degrade_pair
from .quality_bench import Row, SetScore, bicubic_row, opencv_rows, score_row

DEFAULT_PHOTO_VAL = Path("~/.cache/tinyespcn/data/photos2k-val")
BEGIN, END = "<!-- photo-bench:begin -->", "<!-- photo-bench:end -->"
STRENGTHS = (0.0, 0.5, 1.0)


def photo_rows(scale: int, device: torch.device, opencv_dir: Path | None, log=print) -> list[Row]:
    from tinyespcn_nodes.core.catalog import PARTNERS, bundled, default_name

    from .quality_bench import _runner, eval_job

    table = bundled()
    photos = [n for n in PARTNERS if n.startswith("photo-") and n.endswith(f"-x{scale}") and n in table]
    rows = [bicubic_row(scale)]
    general = default_name(scale)
    if general in table and general not in (PARTNERS[p] for p in photos):
        rows.append(Row(general, "clean", scale, _runner(eval_job(table[general], scale, device))))
    for photo in photos:  # photo-xN, then photo-fast-xN
        for s in STRENGTHS:
            label = f"{photo} @ {s:g}" + (f" (= {PARTNERS[photo]})" if s == 0 else "")
            rows.append(Row(label, "photo", scale, _runner(eval_job(table[photo], scale, device, s))))
    if opencv_dir:
        rows += opencv_espcn(opencv_dir, scale, log)
    return rows


def opencv_espcn(folder: Path, scale: int, log=print) -> list[Row]:
    """OpenCV's ESPCN row when its .pb is in `folder`; otherwise says why it is left out."""
    rows = [r for r in opencv_rows(Path(folder), scale, log) if "ESPCN" in r.name]
    if not rows:
        log(f"OpenCV ESPCN x{scale} left out: no loadable {Path(folder) / f'ESPCN_x{scale}.pb'}")
    return rows


def grid_text(score: SetScore, bicubic: SetScore) -> str:
    """The block-grid part of a cell: bicubic's score, any other row's as a multiple of bicubic's."""
    if score.blockiness is None or bicubic.blockiness is None:
        return ""
    if score is bicubic:
        return f" · grid {score.blockiness:.2f}"
    return f" · grid {score.blockiness / bicubic.blockiness:.2f}×"


GRID_TEXT = (
    "In the JPEG cases `grid` is the block-grid score (trainer/blockiness.py: the mean luma step across the LR "
    "8×8 JPEG grid mapped to the output over the mean step elsewhere, after PSNR-B's blocking-effect factor; "
    "about 1 without a grid): bicubic's value, and every other row's as a multiple of bicubic's (above 1× = "
    "the model draws the blocks more strongly than bicubic)"
)


def photo_scales() -> list[int]:
    from tinyespcn_nodes.core.catalog import PARTNERS, bundled

    table = bundled()
    return sorted({int(n.rsplit("-x", 1)[1]) for n in PARTNERS if n.startswith("photo-") and n in table})


def photo_table(folder: Path, lpips, device: torch.device, opencv_dir: Path | None, log=print) -> str:
    """Markdown: one table per scale, rows × degradation cases, cells Y-PSNR (gain over bicubic) / SSIM / LPIPS."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"photo validation folder {folder} not found: run `python -m trainer photo-split "
            "../shared/data/train/photos2k` (or give --photo-val)"
        )
    scales = photo_scales()
    if not scales:
        raise FileNotFoundError("no photo-xN weights are bundled: nothing to measure in the photo table")
    case_text = "; ".join(f"{c}: " + (", ".join(_describe(SPECS[c])) or "MATLAB-bicubic LR") for c in CASES)
    out = [
        f"Held-out photos: {len(load_pairs(folder, 2))} centre crops of the photos2k validation split "
        f"(`python -m trainer photo-split`; no model trained on them). Cases: {case_text}. "
        "Cells: Y-PSNR dB (gain over bicubic) / SSIM / LPIPS (lower is better)"
        + ("" if lpips is not None else "; LPIPS left out")
        + ". Photo rows mix the photo file with its clean partner at the given restoration strength. "
        + GRID_TEXT
        + ".",
        "",
    ]
    scorer = TargetCache(lpips) if isinstance(lpips, LPIPS) else lpips
    for scale in scales:
        pairs = load_pairs(folder, scale)
        rows = photo_rows(scale, device, opencv_dir, log)
        cells = case_cells(rows, pairs, scale, scorer, log)
        out += [f"**x{scale}**", "", *case_table("Upscaler", cells), ""]
    return "\n".join(out).strip()


def case_table(first: str, cells: dict[str, list[str]]) -> list[str]:
    """Markdown lines: a first column headed `first` naming each row, then one column per case."""
    head = [f"| {first} | " + " | ".join(CASES) + " |", "|---|" + "---:|" * len(CASES)]
    return head + [f"| {name} | " + " | ".join(v) + " |" for name, v in cells.items()]


def files_table(files: list[str], scale: int, pairs: list, device: torch.device, strengths=(1.0,)) -> str:
    """`trainer photo-cases`: Y-PSNR (gain over bicubic) per case for any weights files (a run's exports side by
    side; photo and portrait names also at other restoration strengths) on the same pairs as the tables."""
    from tinyespcn_nodes.core.catalog import PARTNERS, resolve_weights

    from .quality_bench import _runner, eval_job

    rows = [bicubic_row(scale)]
    stems = [Path(name).name.removesuffix(".safetensors") for name in files]
    for name, stem in zip(files, stems):
        label = stem if stems.count(stem) == 1 else name  # two files named alike stay two rows
        for s in strengths if name in PARTNERS else (1.0,):
            job = eval_job(resolve_weights(name), scale, device, s)
            rows.append(Row(label + ("" if s == 1 else f" @ {s:g}"), "file", scale, _runner(job)))
    return "\n".join(case_table(f"x{scale}", case_cells(rows, pairs, scale, None, full=False)))


def case_cells(rows: list[Row], pairs: list, scale: int, lpips, log=None, full: bool = True) -> dict[str, list[str]]:
    """Row name → one cell per case: Y-PSNR (gain over the first row, bicubic), with `full` also SSIM and LPIPS,
    and in the JPEG cases the block-grid score."""
    cells: dict[str, list[str]] = {r.name: [] for r in rows}
    for case in CASES:
        degraded = [degrade_pair(p, scale, case) for p in pairs]
        block = JPEG_BLOCK if SPECS[case].quality else 0
        base = None
        for row in rows:
            score, _ = score_row(row, degraded, lpips, set(), block)
            base = base or score
            gain = "" if row is rows[0] else f" ({score.psnr - base.psnr:+.2f})"
            lp = f" / {score.lpips:.3f}" if score.lpips is not None else ""
            more = f" / {score.ssim:.4f}{lp}" if full else ""
            cells[row.name].append(f"{score.psnr:.2f}{gain}{more}{grid_text(score, base)}")
        if log:
            log(f"photo x{scale} {case}: {len(rows)} rows")
    return cells


def _describe(spec) -> list[str]:
    parts = []
    if spec.blur:
        parts.append(f"Gaussian blur σ {spec.blur:g}·scale HR px before the downscale")
    if spec.noise:
        parts.append(f"Gaussian noise σ {spec.noise * 255:g}/255 on the LR")
    if spec.quality:
        parts.append(f"Pillow JPEG q{spec.quality}")
    return parts


def put_block(path: Path, markdown: str, heading: str | None = None) -> None:
    """Replace the photo block of `path`; a file without one gets it appended under `heading` (if given)."""
    from .checkpoint import write_text_atomic

    text = path.read_text()
    block = f"{BEGIN}\n{markdown.strip()}\n{END}"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    elif heading:
        text = text.rstrip() + f"\n\n{heading}\n\n{block}\n"
    else:
        raise ValueError(f"{path}: add {BEGIN} and {END} where the real-photo table goes")
    write_text_atomic(path, text)


def refresh_card_files(card: Path, files: list[Path], baselines: list[Path]) -> None:
    """Re-render the card's file tables from the files' metadata, keeping its clean benchmark (from the last
    full `trainer bench`) and crops as they are: `--photo-only` then still lists newly shipped files."""
    from .checkpoint import write_text_atomic
    from .model_card import render

    text = card.read_text()
    machine = re.search(r"Hardware: (.*?)\. Times are", text)
    bench = re.search(r"## Benchmark\n\n(.*?)\n\n!\[", text, flags=re.S)
    if not (machine and bench):
        raise ValueError(f"{card}: no benchmark section to keep; run the full `python -m trainer bench --card`")
    crops = re.findall(r"^!\[[^\]]*\]\(([^)]+)\)$", text, flags=re.M)
    write_text_atomic(card, render(files, bench.group(1), crops, machine.group(1), baselines))
