"""The real install steps for tests, in one place.

The core never imports :mod:`recipes` (the Engine receives its steps); tests that run or plan
the real install build their engine here instead of repeating ``all_recipes()``.
"""

from __future__ import annotations

from typing import Any, List

from recipes import all_recipes
from wizard.answers import Answers
from wizard.engine import Engine
from wizard.executor import Executor
from wizard.platforms import Platform
from wizard.recipe import Recipe


def real_steps() -> List[Recipe]:
    """A fresh instance of every real step, in order."""
    return all_recipes()


def real_engine(answers: Answers, platform: Platform, executor: Executor,
                **kwargs: Any) -> Engine:
    """An :class:`Engine` for the real steps (``recipes=`` in ``kwargs`` overrides them)."""
    kwargs.setdefault("recipes", real_steps())
    return Engine(answers, platform, executor, **kwargs)
