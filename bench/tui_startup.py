"""How fast the wizard becomes interactive.

Measures, each repeated N times (min / median / max, milliseconds):

* ``import``: importing ``screens.app`` and the steps (``recipes``) in a fresh interpreter;
* ``in-process``: from building the app (``make_app``, demo answers, dry run on rocky9) to the
  welcome screen being mounted, headless (``App.run_test``), imports already done;
* ``cold``: from launching a fresh interpreter to the welcome screen being mounted (interpreter
  start + imports + app start), which is what an admin waits for over SSH.

Usage: ``python bench/tui_startup.py [-n 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import asyncio, sys, time
t0 = time.time()
sys.path.insert(0, {root!r})
import screens.app
from recipes import all_recipes
t_import = time.time()
from screens.welcome import WelcomeScreen

async def main():
    app = screens.app.make_app(answers="demo", platform="rocky9", recipes=all_recipes())
    async with app.run_test(size=(80, 24)) as pilot:
        while not (isinstance(app.screen, WelcomeScreen) and app.screen.is_mounted):
            await asyncio.sleep(0.001)
        print(t0, t_import, time.time())
asyncio.run(main())
"""


def in_process(n: int) -> List[float]:
    sys.path.insert(0, str(ROOT))
    from recipes import all_recipes
    from screens.app import make_app
    from screens.welcome import WelcomeScreen

    async def once() -> float:
        start = time.perf_counter()
        app = make_app(answers="demo", platform="rocky9", recipes=all_recipes())
        async with app.run_test(size=(80, 24)):
            while not (isinstance(app.screen, WelcomeScreen) and app.screen.is_mounted):
                await asyncio.sleep(0.001)
            return time.perf_counter() - start

    return [asyncio.run(once()) for _ in range(n)]


def fresh(n: int) -> Tuple[List[float], List[float]]:
    imports, cold = [], []
    code = CHILD.format(root=str(ROOT))
    for _ in range(n):
        launch = time.time()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=str(ROOT)).stdout.split()
        t0, t_import, t_ready = (float(x) for x in out[-3:])
        imports.append(t_import - t0)
        cold.append(t_ready - launch)
    return imports, cold


def show(label: str, values: List[float]) -> None:
    ms = [v * 1000 for v in values]
    print(f"{label:12} min {min(ms):7.1f} ms   median {statistics.median(ms):7.1f} ms   "
          f"max {max(ms):7.1f} ms   (n={len(ms)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10, help="repetitions (default 10)")
    args = ap.parse_args()
    imports, cold = fresh(args.n)
    show("import", imports)
    show("in-process", in_process(args.n))
    show("cold", cold)


if __name__ == "__main__":
    main()
