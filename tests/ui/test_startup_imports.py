"""Issue 13: the first screen waits for no more than it shows. Importing the app (and the steps'
package) leaves the later screens, the engine, the steps and ``cryptography`` unloaded; the
app's preload worker loads them once the welcome screen is up, and makes the steps from the
function the entry point hands over. (How fast that is, is measured in bench/tui_startup.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

from ui_recipes import test_recipes
from uikit import FROZEN_MACHINE, preloaded, run_async

from screens.app import LATER_MODULES, make_app
from screens.welcome import WelcomeScreen
from wizard.recipe import Recipe

REPO = Path(__file__).resolve().parents[2]

#: Loaded only after the first screen (or never, before a step needs them).
LATER = ("cryptography", "pygments", "dns", "rich.syntax", "screens.answers", "screens.step",
         "screens.steps", "screens.summary", "wizard.engine", "wizard.recipe",
         "wizard.changes", "wizard.executor.root", "recipes.certificate", "recipes.acme")


def test_importing_the_app_loads_nothing_the_welcome_screen_does_not_need() -> None:
    code = ("import sys, screens.app, recipes; from recipes import all_recipes; "
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    loaded = [m for m in out if any(m == p or m.startswith(p + ".") for p in LATER)]
    assert loaded == [], loaded


@run_async
async def test_preload_makes_the_steps_and_imports_the_later_screens() -> None:
    made: List[List[Recipe]] = []

    def steps() -> List[Recipe]:
        made.append(test_recipes())
        return made[-1]

    app = make_app(answers="demo", platform="debian12", recipes=steps, machine=FROZEN_MACHINE)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        await preloaded(pilot)
        assert len(made) == 1 and app.ctx.recipe_list() is made[0]
        assert all(name in sys.modules for name in LATER_MODULES)
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [sp.id for sp in app.ctx.plans] == [r.id for r in made[0]]
        assert len(made) == 1  # made once
