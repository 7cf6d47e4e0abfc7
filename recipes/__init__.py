"""The install steps, in order. Each module holds one :class:`wizard.recipe.Recipe`."""

from __future__ import annotations

from typing import List

from wizard.recipe import Recipe


def all_recipes() -> List[Recipe]:
    """A fresh instance of every step, in the order they run."""
    return []
