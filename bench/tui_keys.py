"""How long the wizard takes to answer a key: from the key press to the screen repainted.

Walks the dry-run wizard (demo answers, rocky9, every real step) at 80x24 with the keys an
admin uses: the welcome screen, the answers form, the step list, a step and its four tabs,
the next step, the summary, the help screen. Each key is timed from ``pilot.press`` until the
app is idle again (messages handled, the screen refreshed). Planning the steps after Ctrl+N
runs in a worker and is reported apart ("plan"), since the screen shows progress meanwhile;
so is the worker that imports the later screens and makes the steps once the welcome screen is
up ("preload": a person reads that screen before the first key; the walk starts after it).

Usage: ``python bench/tui_keys.py [-n 5]``; prints the median and the worst of each key over
the rounds, and the worst of all (issue 13's goal: no key over 300 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
WALK = ["s", "tab", "tab", "ctrl+n", "down", "down", "enter", "2", "3", "4", "1", "n", "p",
        "question_mark", "escape", "escape", "s", "pagedown", "escape", "question_mark",
        "escape"]


async def one_round(times: Dict[str, List[float]]) -> None:
    from recipes import all_recipes
    from screens.app import make_app

    app = make_app(answers="demo", platform="rocky9", recipes=all_recipes())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        t = time.perf_counter()
        await app.workers.wait_for_complete()
        await pilot.pause()
        times.setdefault("preload (worker)", []).append(time.perf_counter() - t)
        for n, key in enumerate(WALK):
            start = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            label = f"{n:2} {key}"
            if key == "ctrl+n":  # the plan runs in a worker; the key itself answers at once
                times.setdefault(label, []).append(time.perf_counter() - start)
                t = time.perf_counter()
                await app.workers.wait_for_complete()
                await pilot.pause()
                times.setdefault("plan (worker)", []).append(time.perf_counter() - t)
                continue
            times.setdefault(label, []).append(time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="rounds (default 5)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    times: Dict[str, List[float]] = {}
    for _ in range(args.n):
        asyncio.run(one_round(times))
    worst_key = 0.0
    for label, values in times.items():
        ms = [v * 1000 for v in values]
        print(f"{label:18} median {statistics.median(ms):7.1f} ms   max {max(ms):7.1f} ms")
        if not label.endswith("(worker)"):
            worst_key = max(worst_key, max(ms))
    print(f"worst key: {worst_key:.1f} ms (goal <= 300 ms)")


if __name__ == "__main__":
    main()
