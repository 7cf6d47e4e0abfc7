"""``mailwizard export ansible -o DIR --answers FILE [--platform ID ...]``.

The plan for each platform is made as ``mailwizard docs`` makes it (a dry run against a fresh
server of that platform, never this machine), then written as an Ansible role by
:mod:`wizard.ansible`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, List, Sequence, TextIO

from .engine import Engine
from .errors import UsageError
from .platforms import get_platform
from .recipe import Recipe
from .target import TargetOptions, open_target

EXPORT_KINDS = ("ansible",)


def cmd_export(args: argparse.Namespace, out: TextIO,
               recipes: Callable[[], List[Recipe]]) -> int:
    from .ansible import export_role

    words = list(getattr(args, "words", None) or [])
    kind = words[0] if len(words) == 1 else None
    if kind not in EXPORT_KINDS:
        raise UsageError(f"export needs a kind: {', '.join(EXPORT_KINDS)} "
                         "(mailwizard export ansible -o DIR --answers FILE)")
    if not args.output:
        raise UsageError("export ansible needs -o DIR (where the role goes)")
    if not args.answers:
        raise UsageError("export ansible needs --answers FILE")
    platforms = _platforms(args.platform)
    engines: List[Engine] = []
    for pid in platforms:
        target = open_target(TargetOptions(platform=pid, dry_run=True, verb="docs",
                                           state_dir=args.state_dir))
        engines.append(target.engine(target.load_answers(args.answers), recipes()))
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"-o {args.output}: not a directory")
    written = export_role(engines, out_dir)
    out.write(f"Wrote an Ansible role for {', '.join(platforms)} in {out_dir} "
              f"({len(written)} files). Start with {out_dir / 'README.md'}.\n")
    return 0


def _platforms(given: Sequence[str] | str | None) -> List[str]:
    if not given:
        raise UsageError("export ansible needs --platform ID (repeatable), e.g. "
                         "--platform debian12 --platform rocky9")
    items = [given] if isinstance(given, str) else list(given)
    out: List[str] = []
    for pid in items:
        canon = get_platform(pid).id  # an unknown id is refused, listing the known ones
        if canon not in out:
            out.append(canon)
    return out
