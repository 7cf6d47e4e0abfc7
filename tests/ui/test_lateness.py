"""The lateness probe (tests/ui/lateness.py) really makes workers and after-refresh
callbacks late: else test.sh's second TUI run would prove nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CODE = r"""
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[1])
import lateness
if sys.argv[2] == "late":
    lateness.apply(0.3)
from textual import work
from textual.app import App

class Probe(App):
    def on_mount(self):
        self.t0 = time.monotonic()
        self.seen = {}
        self.call_after_refresh(lambda: self.seen.setdefault("refresh", time.monotonic()))
        self.job()

    @work(thread=True)
    def job(self):
        self.seen["worker"] = time.monotonic()

async def main():
    app = Probe()
    async with app.run_test() as pilot:
        for _ in range(100):
            if len(app.seen) == 2:
                break
            await pilot.pause(0.02)
    print(json.dumps({k: v - app.t0 for k, v in app.seen.items()}))

asyncio.run(main())
"""


def delays(mode: str) -> dict:  # type: ignore[type-arg]
    out = subprocess.run([sys.executable, "-c", CODE, str(HERE), mode], capture_output=True,
                         text=True, check=True, timeout=120,
                         env={**os.environ, "MAILWIZARD_TEST_LATENESS": ""}).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_the_probe_makes_workers_and_after_refresh_callbacks_late() -> None:
    late = delays("late")
    assert set(late) == {"refresh", "worker"}
    assert late["refresh"] >= 0.3 and late["worker"] >= 0.3, late
    assert set(delays("on-time")) == {"refresh", "worker"}  # the probe itself runs unpatched
