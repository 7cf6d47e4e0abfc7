"""The install steps, in order. Each module holds one :class:`wizard.recipe.Recipe`."""

from __future__ import annotations

import importlib
from typing import List

from wizard.recipe import Recipe

# Steps 7-13 are written in parallel; until integration a missing module is skipped.
_LATER_STEPS = (
    ("restrictions", "RestrictionsRecipe"),
    ("certificate", "CertificateRecipe"),
    ("sasl", "SaslRecipe"),
    ("tls_postfix", "TlsPostfixRecipe"),
    ("tls_dovecot", "TlsDovecotRecipe"),
    ("services", "ServicesRecipe"),
    ("firewall", "FirewallRecipe"),
)


def all_recipes() -> List[Recipe]:
    """A fresh instance of every step, in the order they run."""
    from .aliases import AliasesRecipe
    from .dovecot_basics import DovecotBasicsRecipe
    from .maildir import MaildirRecipe
    from .packages import PackagesRecipe
    from .postfix_basics import PostfixBasicsRecipe
    from .preflight import PreflightRecipe

    out: List[Recipe] = [PreflightRecipe(), PackagesRecipe(), PostfixBasicsRecipe(),
                         DovecotBasicsRecipe(), MaildirRecipe(), AliasesRecipe()]
    for module, cls in _LATER_STEPS:
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ImportError:  # TODO(lead): drop this try/except at integration
            continue
        out.append(getattr(mod, cls)())
    return out
