"""How fast the wizard becomes interactive.

Measures, each repeated N times (min / median / max, milliseconds):

* ``import``: importing ``screens.app`` and ``recipes`` in a fresh interpreter;
* ``in-process``: from building the app (``make_app``, demo answers, dry run on rocky9) to the
  welcome screen being mounted, headless (``App.run_test``), imports already done;
  the steps are handed over as ``mailwizard`` does (``wizard.cli.run_tui``): as the function
  that makes them, which the app calls in its preload worker once the first screen is up;
* ``cold``: from launching a fresh interpreter to the welcome screen being mounted (interpreter
  start + imports + app start), through ``make_app``;
* ``entry``: the same through the real entry point, what an admin waits for after typing
  ``mailwizard --dry-run --platform rocky9 --answers demo``: ``wizard.cli`` is imported, parses
  the options, opens the target and calls :func:`screens.app.run_app`, whose ``App.run`` is
  replaced by the same headless run (``run_test``) as above (a headless app has no terminal
  to set up; the bare app below is measured the same way). The child's standard input and
  output are a pseudo-terminal, so ``wizard.cli.main`` opens the wizard, not the plan;
* ``bare``: the same for a bare Textual app (a header, one line of text, a footer): the floor
  any Textual program pays. The goal of issue 13 is entry / bare at most 1.5 (before
2026-12-03 this bench measured only cold / bare, which skips the entry point's imports).

The project's modules are compiled to bytecode first, as installing mailwizard does (pip
compiles a wheel's modules; ``scripts/venv.sh`` compiles the checkout's): an editable install
in an environment that sets ``PYTHONDONTWRITEBYTECODE`` (this workplace's does) would otherwise
compile the three dozen modules of the start from source each time, which no installed copy
does and the bare app (its Textual compiled by pip) never pays.

On a shared machine the wall-clock times swing with the load; ``cpu`` (the child's user +
system time, which waiting for the processor does not inflate) is printed next to them, and
the ratio of the two medians for both.

Usage: ``python bench/tui_startup.py [-n 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import asyncio, os, sys, time
t0 = time.time()
sys.path.insert(0, {root!r})
import screens.app
from recipes import all_recipes
t_import = time.time()
from screens.welcome import WelcomeScreen

async def main():
    app = screens.app.make_app(answers="demo", platform="rocky9", recipes=all_recipes)
    async with app.run_test(size=(80, 24)) as pilot:
        while not (isinstance(app.screen, WelcomeScreen) and app.screen.is_mounted):
            await asyncio.sleep(0.001)
        print(t0, t_import, time.time(), flush=True)
        os._exit(0)  # the CPU time counted is the start's, not the shutdown's
asyncio.run(main())
"""


CHILD_ENTRY = """
import asyncio, os, sys, time
t0 = time.time()
sys.path.insert(0, {root!r})
from wizard import cli
t_import = time.time()

def headless_run(app, **_kw):
    from screens.welcome import WelcomeScreen

    async def main():
        async with app.run_test(size=(80, 24)):
            while not (isinstance(app.screen, WelcomeScreen) and app.screen.is_mounted):
                await asyncio.sleep(0.001)
            print(t0, t_import, time.time(), file=sys.stderr, flush=True)
            os._exit(0)  # the CPU time counted is the start's, not the shutdown's
    asyncio.run(main())

def run_tui(args):
    import screens.app
    screens.app.MailWizardApp.run = headless_run
    return real_run_tui(args)

real_run_tui, cli.run_tui = cli.run_tui, run_tui
cli.main(["--dry-run", "--platform", "rocky9", "--answers", "demo"])
"""


CHILD_BARE = """
import asyncio, os, sys, time
t0 = time.time()
from textual.app import App
from textual.widgets import Footer, Header, Static
t_import = time.time()

class Bare(App):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

async def main():
    app = Bare()
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.screen.is_mounted or not app.query(Static):
            await asyncio.sleep(0.001)
        print(t0, t_import, time.time(), flush=True)
        os._exit(0)  # the CPU time counted is the start's, not the shutdown's
asyncio.run(main())
"""


def in_process(n: int) -> List[float]:
    sys.path.insert(0, str(ROOT))
    from recipes import all_recipes
    from screens.app import make_app
    from screens.welcome import WelcomeScreen

    async def once() -> float:
        start = time.perf_counter()
        app = make_app(answers="demo", platform="rocky9", recipes=all_recipes)
        async with app.run_test(size=(80, 24)):
            while not (isinstance(app.screen, WelcomeScreen) and app.screen.is_mounted):
                await asyncio.sleep(0.001)
            return time.perf_counter() - start

    return [asyncio.run(once()) for _ in range(n)]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_child(code: str, tty: bool) -> List[str]:
    """Run ``code`` in a fresh interpreter; its three times (on stdout, or on stderr when
    its stdin and stdout are a pseudo-terminal)."""
    if not tty:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, cwd=str(ROOT)).stdout.split()
    master, slave = os.openpty()
    try:
        done = subprocess.run([sys.executable, "-c", code], stdin=slave, stdout=slave,
                              stderr=subprocess.PIPE, text=True, check=True, cwd=str(ROOT))
    finally:
        os.close(slave)
        os.close(master)
    return done.stderr.split()


def fresh(n: int, code: str = "", cpu: Optional[List[float]] = None,
          tty: bool = False) -> Tuple[List[float], List[float]]:
    """``n`` fresh interpreters running ``code``: (import times, cold times); the CPU time of
    each child is appended to ``cpu``."""
    imports, cold = [], []
    code = code or CHILD.format(root=str(ROOT))
    for _ in range(n):
        launch = time.time()
        before = _children_cpu()
        out = _run_child(code, tty)
        if cpu is not None:
            cpu.append(_children_cpu() - before)
        t0, t_import, t_ready = (float(x) for x in out[-3:])
        imports.append(t_import - t0)
        cold.append(t_ready - launch)
    return imports, cold


def show(label: str, values: List[float]) -> None:
    ms = [v * 1000 for v in values]
    print(f"{label:12} min {min(ms):7.1f} ms   median {statistics.median(ms):7.1f} ms   "
          f"max {max(ms):7.1f} ms   (n={len(ms)})")


def compile_project() -> None:
    """Bytecode for the project's modules, as an installed copy has (see above)."""
    for package in ("wizard", "screens", "recipes"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10, help="repetitions (default 10)")
    args = ap.parse_args()
    compile_project()
    imports: List[float] = []
    cold: List[float] = []
    bare: List[float] = []
    entry: List[float] = []
    entry_imports: List[float] = []
    cold_cpu: List[float] = []
    entry_cpu: List[float] = []
    bare_cpu: List[float] = []
    entry_code = CHILD_ENTRY.format(root=str(ROOT))
    for _ in range(args.n):  # interleaved: the machine's load falls on all alike
        i, c = fresh(1, cpu=cold_cpu)
        imports += i
        cold += c
        i, c = fresh(1, entry_code, cpu=entry_cpu, tty=True)
        entry_imports += i
        entry += c
        bare += fresh(1, CHILD_BARE, cpu=bare_cpu)[1]
    show("import", imports)
    show("import cli", entry_imports)
    show("in-process", in_process(args.n))
    show("cold", cold)
    show("entry", entry)
    show("bare", bare)
    show("cold cpu", cold_cpu)
    show("entry cpu", entry_cpu)
    show("bare cpu", bare_cpu)
    for label, ours, theirs in (("cold / bare", cold, bare), ("entry / bare", entry, bare),
                                ("cpu: cold / bare", cold_cpu, bare_cpu),
                                ("cpu: entry / bare", entry_cpu, bare_cpu)):
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"{label:18} {ratio:.2f}x (medians)")
    print("goal (issue 13): entry / bare <= 1.5x")


if __name__ == "__main__":
    main()
