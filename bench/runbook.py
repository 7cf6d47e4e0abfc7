"""Time runbook generation (``mailwizard docs``) per platform, Markdown and HTML, and size it.

Usage: python bench/runbook.py [--repeat N] [PLATFORM ...]

Each time is one full generation: planning every step against the stock files, rendering
Markdown, and for HTML also converting it. The size is that of the generated runbook in bytes
(UTF-8) and KiB. Nothing on this machine is read or changed beyond a temporary, empty target
root.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recipes import all_recipes  # noqa: E402
from wizard.answers import demo_answers_path, load_answers  # noqa: E402
from wizard.engine import Engine  # noqa: E402
from wizard.executor import DryRunExecutor  # noqa: E402
from wizard.platforms import get_platform, platform_ids  # noqa: E402
from wizard.runbook import render_runbook  # noqa: E402

DEFAULT = ["rocky9", "centos7", "almalinux10", "debian12", "debian13", "ubuntu24.04"]


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("platforms", nargs="*")
    args = ap.parse_args(argv)
    known = platform_ids()
    platforms = args.platforms or [p for p in DEFAULT if p in known]
    answers = load_answers(demo_answers_path())
    worst = 0.0
    print(f"{'platform':<14}{'format':<10}{'min ms':>9}{'median ms':>11}{'max ms':>9}"
          f"{'bytes':>9}{'KiB':>7}{'steps':>7}")
    with tempfile.TemporaryDirectory(prefix="mw-bench-") as root:
        for pid in platforms:
            platform = get_platform(pid)
            for fmt in ("markdown", "html"):
                times = []
                out = ""
                steps = 0
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    engine = Engine(answers, platform, DryRunExecutor(root),
                                    recipes=all_recipes())
                    out = render_runbook(engine, fmt)
                    times.append(time.perf_counter() - start)
                    steps = len(engine.recipes)
                worst = max(worst, max(times))
                print(f"{pid:<14}{fmt:<10}{min(times) * 1000:>9.1f}"
                      f"{statistics.median(times) * 1000:>11.1f}{max(times) * 1000:>9.1f}"
                      f"{len(out.encode()):>9}{len(out.encode()) / 1024:>7.1f}{steps:>7}")
    print(f"slowest single generation: {worst * 1000:.1f} ms "
          f"({'OK, under' if worst < 1 else 'OVER'} one second)")
    return 0 if worst < 1 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
