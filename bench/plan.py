"""Benchmark: how long planning takes (the admin waits for it before every decision).

Prints, per platform, the median and best of N in-process plans of the demo answers, and the
wall time of the whole ``mailwizard plan`` command (process start, imports, plan, output).

    python bench/plan.py [-n 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from recipes import all_recipes
from wizard.answers import demo_answers_path, load_answers
from wizard.engine import Engine
from wizard.executor import DryRunExecutor
from wizard.platforms import get_platform

PLATFORMS = ["rocky9", "centos7", "almalinux10", "debian12", "debian13", "ubuntu24.04"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=7)
    n = ap.parse_args().n
    answers = load_answers(demo_answers_path())
    print(f"{'platform':12} {'plan median':>12} {'plan best':>10} {'changes':>8} "
          f"{'CLI median':>11} {'CLI best':>9}")
    for pid in PLATFORMS:
        times = []
        changes = 0
        for _ in range(n):
            with tempfile.TemporaryDirectory() as root:
                t0 = time.perf_counter()
                plans = Engine(answers, get_platform(pid), DryRunExecutor(root),
                               recipes=all_recipes()).plan()
                times.append(time.perf_counter() - t0)
                changes = sum(p.changed for p in plans)
        cli = []
        for _ in range(n):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "wizard.cli", "plan", "--answers", "demo",
                            "--platform", pid], check=True, stdout=subprocess.DEVNULL)
            cli.append(time.perf_counter() - t0)
        print(f"{pid:12} {statistics.median(times) * 1000:10.1f}ms {min(times) * 1000:8.1f}ms "
              f"{changes:8d} {statistics.median(cli) * 1000:9.0f}ms {min(cli) * 1000:7.0f}ms")


if __name__ == "__main__":
    main()
