"""Fixtures for the TUI tests: a frozen machine, a seeded target root, Pilot helpers."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable, Coroutine, List

import pytest
from textual.pilot import Pilot
from textual.widget import Widget

sys.path.insert(0, os.path.dirname(__file__))

from fake_target import make_root  # noqa: E402

from screens.context import Machine  # noqa: E402
from wizard.recipe import Recipe  # noqa: E402

#: Snapshots and defaults must not depend on the machine the tests run on.
FROZEN_MACHINE = Machine(hostname="mail.ci.example", platform_name="Test Linux 1")

MAIN_CF = """\
# Global Postfix configuration file (test copy).
#
#myhostname = host.domain.tld
#mydomain = domain.tld
inet_interfaces = localhost
"""


@pytest.fixture
def machine() -> Machine:
    return FROZEN_MACHINE


@pytest.fixture
def target_root(tmp_path: Path) -> Path:
    """A small target system: accounts, and a main.cf to edit."""
    return make_root(tmp_path / "root", {"alice": 1000, "bob": 1001}, daemons=False,
                     main_cf=MAIN_CF)


def walk_recipes() -> List[Recipe]:
    """The real steps when they exist, else the test steps."""
    from ui_recipes import test_recipes

    from recipes import all_recipes

    return all_recipes() or test_recipes()


def text_of(widget: Widget) -> str:
    """The plain text a widget shows."""
    rendered: Any = widget.render()
    plain = getattr(rendered, "plain", None)
    return plain if isinstance(plain, str) else str(rendered)


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and the UI catch up."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run (no pytest-asyncio needed); fixtures still work."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper
