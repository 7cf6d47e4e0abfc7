"""How long the wizard takes to answer a key: from the key press to the screen repainted.

Walks the dry-run wizard (demo answers, rocky9, every real step) at 80x24 with the keys an
admin uses: the welcome screen, the answers form, the step list, a step and its four tabs,
the next step, the summary, the help screen. Planning the steps after Ctrl+N runs in a worker
and is reported apart ("plan"), since the screen shows progress meanwhile; so is the worker
that imports the later screens and makes the steps once the welcome screen is up ("preload":
a person reads that screen before the first key; the walk starts after it).

Each key is sent with ``pilot.press``; the bench then waits until the app is idle again
(messages handled, screen refreshed) and reports, from the key's sending:

* ``paint``: until the last screen update the key caused (the screen as it stays); each update
  is also turned into the bytes a terminal would get (the headless driver skips that step),
  so the time includes it. This is the repaint time of issue 13's goal (no key over 300 ms);
* ``first``: until the first screen update after the key;
* ``cpu``: the process's CPU time over the key (what the machine's load does not inflate);
* ``idle``: until Pilot saw the app idle. Pilot polls in steps of 20 ms and waits for three
  quiet polls, so this adds some 60-120 ms to any key (a key that does nothing takes as long);
  earlier versions of this bench reported this figure.

Usage: ``python bench/tui_keys.py [-n 5]``; prints the median and the worst of each key over
the rounds, and the worst of all.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
WALK = ["s", "tab", "tab", "ctrl+n", "down", "down", "enter", "2", "3", "4", "1", "n", "p",
        "question_mark", "escape", "escape", "s", "pagedown", "escape", "question_mark",
        "escape"]


#: One key's figures: (paint, first, cpu, idle) in seconds.
Figures = Tuple[float, float, float, float]


def watch_paints(app: Any) -> List[float]:
    """Record the time of each screen update of ``app`` (the list it returns grows)."""
    paints: List[float] = []
    display = app._display

    def timed_display(screen: Any, update: Any) -> None:
        display(screen, update)
        if update is not None and hasattr(update, "render_segments"):
            update.render_segments(app.console)  # what a real terminal driver would write
        paints.append(time.perf_counter())

    app._display = timed_display
    return paints


async def one_round(times: Dict[str, List[Figures]], workers: Dict[str, List[float]]) -> None:
    from recipes import all_recipes
    from screens.app import make_app

    app = make_app(answers="demo", platform="rocky9", recipes=all_recipes())
    paints = watch_paints(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        t = time.perf_counter()
        await app.workers.wait_for_complete()
        await pilot.pause()
        workers.setdefault("preload (worker)", []).append(time.perf_counter() - t)
        for n, key in enumerate(WALK):
            del paints[:]
            start, cpu = time.perf_counter(), time.process_time()
            await pilot.press(key)
            await pilot.pause()
            idle, cpu = time.perf_counter() - start, time.process_time() - cpu
            after = [p - start for p in paints] or [idle]  # no update: count the wait
            times.setdefault(f"{n:2} {key}", []).append((after[-1], after[0], cpu, idle))
            if key == "ctrl+n":  # the plan runs in a worker; the key itself answers at once
                t = time.perf_counter()
                await app.workers.wait_for_complete()
                await pilot.pause()
                workers.setdefault("plan (worker)", []).append(time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="rounds (default 5)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    times: Dict[str, List[Figures]] = {}
    workers: Dict[str, List[float]] = {}
    for _ in range(args.n):
        asyncio.run(one_round(times, workers))
    print(f"{'key':18} {'paint median/max':>18} {'first':>7} {'cpu':>7} {'idle':>7}  "
          "(ms; first, cpu, idle: medians)")
    worst: Tuple[float, str] = (0.0, "")
    for label, values in times.items():
        paint = [v[0] * 1000 for v in values]
        first, cpu, idle = (statistics.median(v[i] * 1000 for v in values) for i in (1, 2, 3))
        print(f"{label:18} {statistics.median(paint):8.1f} {max(paint):8.1f}  {first:7.1f} "
              f"{cpu:7.1f} {idle:7.1f}")
        worst = max(worst, (max(paint), label.split()[-1]))
    for label, spans in workers.items():
        ms = [v * 1000 for v in spans]
        print(f"{label:18} median {statistics.median(ms):7.1f} ms   max {max(ms):7.1f} ms")
    print(f"worst key (paint): {worst[0]:.1f} ms ({worst[1]}; goal <= 300 ms)")


if __name__ == "__main__":
    main()
