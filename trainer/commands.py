"""eval / export / bench subcommands (filled in by the evaluation work)."""

from __future__ import annotations

import argparse


def add_parsers(sub) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise SystemExit(f"unknown command {args.command}")
