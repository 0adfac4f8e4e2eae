"""`python -m trainer {pretrain,finetune,eval,export,bench}`; every option also readable from --config."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from .config import CHOICES, FINETUNE_DEFAULTS, HELP, PRETRAIN_DEFAULTS, TrainConfig, read_config_file, real_option
from .evaluate import default_val_sets
from .models import ARCHITECTURES


def _help(name: str, defaults: TrainConfig) -> str:
    text = HELP.get(name, name.replace("_", " "))
    value = getattr(defaults, name)
    shown = "auto" if name == "run_dir" else ("none" if value in (None, [], {}, "") else value)
    if isinstance(value, list) and value:
        shown = " ".join(map(str, value))
    return f"{text} (default: {shown})".replace("%", "%%")


def _add_train_options(p: argparse.ArgumentParser, defaults: dict) -> None:
    base = TrainConfig().updated(defaults)
    p.add_argument("--config", help="TOML or YAML file with any option below; flags given here override it")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = _help(f.name, base)
        if f.name in ("data", "replay_data"):
            p.add_argument(flag, nargs="+", default=None, help=help_text)
        elif f.name == "val_sets":
            p.add_argument(flag, nargs="*", default=None, help=help_text)
        elif f.name == "rescales":
            p.add_argument(flag, nargs="*", type=float, default=None, help=help_text)
        elif f.name == "hr_jpeg":
            p.add_argument(flag, nargs="*", type=int, metavar="QUALITY", default=None, help=help_text)
        elif f.name in ("psf_sigma", "gain", "read_noise", "background"):
            p.add_argument(flag, nargs=2, type=float, metavar=("MIN", "MAX"), default=None, help=help_text)
        elif f.name == "loss_weights":
            p.add_argument(flag, nargs="*", default=None, metavar="TERM=W", help=help_text)
        elif f.name == "real_options":
            p.add_argument(flag, nargs="*", default=None, metavar="FIELD=V[,V]", help=help_text)
        elif f.name == "model":
            continue  # each architecture's own options follow as flags of their own
        elif f.name == "arch":
            p.add_argument(flag, choices=ARCHITECTURES, default=None, help=help_text)
        elif f.type in ("bool",):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif f.name in CHOICES:
            p.add_argument(flag, choices=CHOICES[f.name], default=None, help=help_text)
        else:
            kind = {"int": int, "float": float, "int | None": int}.get(str(f.type), str)
            p.add_argument(flag, type=kind, default=None, help=help_text)
    group = p.add_argument_group("architecture options (passed to the chosen --arch's config untouched)")
    for name, (kind, owners) in arch_options().items():
        flag = "--" + name.replace("_", "-")
        help_text = f"option of {', '.join(owners)} (default: that architecture's)"
        if kind is bool:
            group.add_argument(
                flag, dest=f"arch_{name}", action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        else:
            group.add_argument(flag, dest=f"arch_{name}", type=kind, default=None, help=help_text)
    p.add_argument("--no-resume", action="store_true", help="start over even if the run folder has last.pt")


def arch_options() -> dict[str, tuple[type, list[str]]]:
    """Every option of every registered architecture's config (but scale): name → (type, architectures)."""
    from dataclasses import fields as dc_fields

    from tinyespcn_nodes.core.arch import SPECS

    out: dict[str, tuple[type, list[str]]] = {}
    for spec in SPECS:
        for f in dc_fields(spec.config_cls):
            if f.name in ("scale", "deployed"):
                continue
            kind = {"int": int, "float": float, "bool": bool}.get(str(f.type), str)
            out.setdefault(f.name, (kind, []))[1].append(spec.name)
    return out


def _config_from_args(args: argparse.Namespace, defaults: dict) -> TrainConfig:
    cfg = TrainConfig().updated(defaults)
    if args.config:
        cfg = cfg.updated(read_config_file(args.config), source=args.config)
    overrides = {}
    for f in fields(TrainConfig):
        value = getattr(args, f.name, None)
        if value is None:
            continue
        if f.name == "loss_weights":
            value = {k: float(v) for k, v in (item.split("=", 1) for item in value)}
        elif f.name == "real_options":
            value = dict(real_option(item) for item in value)
        elif str(f.type) == "int | None" and value == 0:
            value = None  # e.g. --subset 0: all images, --face-size 0: no resize
        overrides[f.name] = value
    model = {
        name: getattr(args, f"arch_{name}")
        for name in arch_options()
        if getattr(args, f"arch_{name}", None) is not None
    }
    if model:
        overrides["model"] = {**cfg.model, **model}
    cfg = cfg.updated(overrides)
    if not cfg.val_sets and args.val_sets is None:
        cfg = cfg.updated({"val_sets": default_val_sets()})
    return cfg


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    pre = sub.add_parser("pretrain", help="train from scratch on LSDIR or image folders (e.g. T91 + BSDS200)")
    _add_train_options(pre, PRETRAIN_DEFAULTS)
    fine = sub.add_parser("finetune", help="fine-tune existing weights on CelebA / CelebA-HQ / FFHQ faces")
    _add_train_options(fine, FINETUNE_DEFAULTS)
    from . import commands

    commands.add_parsers(sub)
    return parser


def training_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig a parsed `pretrain`/`finetune` command line means."""
    cfg = _config_from_args(args, PRETRAIN_DEFAULTS if args.command == "pretrain" else FINETUNE_DEFAULTS)
    return _with_init_architecture(cfg, args)


def _with_init_architecture(cfg: TrainConfig, args: argparse.Namespace) -> TrainConfig:
    from .models import adopt_init_architecture

    chosen = args.arch is not None or bool(args.config and "arch" in read_config_file(args.config))
    return adopt_init_architecture(cfg, keep_arch=chosen)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except KeyboardInterrupt:
        print("interrupted; the last checkpoint is kept: run the same command again to resume", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, IndexError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command in ("pretrain", "finetune"):
        from .loop import run_training

        cfg = training_config(args)
        if args.command == "finetune" and not cfg.init:
            parser.error("finetune needs --init WEIGHTS (a .safetensors file or bundled name)")
        run_training(cfg, resume=not args.no_resume)
        print(f"run folder: {cfg.run_path}")
        return 0
    from . import commands

    return commands.run(args)


if __name__ == "__main__":
    sys.exit(main())
