"""The training and evaluation data of the bundled weights and their licences, as a Markdown table: the model
card and the bioimage.io package documentation both quote it."""

DATA_LICENCES = """\
| Data | Used for | Licence (as stated by the source) |
|---|---|---|
| T91 (91 images) | general pretraining | third-party images in an Apache-2.0 repo; research use |
| BSDS200 (BSDS500 train split) | general pretraining | Berkeley images, **research use only** |
| extra/Kodak24, extra/LIVE1 | balanced/fast pretraining | no licence stated; research use |
| extra/McMaster | balanced/fast pretraining | Apache-2.0 repository, no data licence stated |
| extra/SunHays80_down | balanced/fast pretraining | "no ownership claimed"; research use |
| extra/PolyU_mean_down | balanced/fast pretraining | **non-commercial use only** |
| extra/DebianWallpaperPhotos_down | balanced/fast pretraining | GPL-2+ |
| extra/skimage_data | balanced/fast pretraining | CC0 / public domain |
| photos2k (51 of 61 wallpaper photos; 10 held out) | photo and portrait fine-tunes (`--degradation real`; replayed in the portrait runs); the held-out 10 (centre crops) are the real-photo benchmark | per photo, see `../shared/README.md` and `MANIFEST.tsv`: CC0, Unsplash licence, CC BY(-SA), LGPL |
| photos2k_full (166 of the 176 photos `../shared/tools/photo_set` rebuilds from seven wallpaper repositories; photos2k's 10 held out by `photo-split --val-like`) | the photo fine-tunes after stop 38 (`photo-x2`, `photo-x4`, `photo-fast-x2`; `--degradation real --real-options`) | per photo in the build's `MANIFEST.tsv` (sources and licences in `photo_set/sources.tsv`): CC0, Unsplash/Pexels licence, CC BY(-SA), LGPL/GPL |
| CelebA-HQ (108 faces; 88 train, 20 held out) | portrait fine-tune (with `--degradation real`), Faces benchmark | **CC BY-NC / non-commercial research only** |
| Set5, Set14, BSD100 | evaluation only | third-party benchmark images, research use |
| faces/portraits_wild (7 photos) | evaluation only (WildFaces: face crops) | GPEN / II2S example images, no licence stated |

Because the training images are research-only, treat the shipped weights as research artefacts: the
portrait weights in particular inherit CelebA-HQ's non-commercial terms."""
