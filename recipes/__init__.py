"""The install steps, in order. Each module holds one :class:`wizard.recipe.Recipe`."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

if TYPE_CHECKING:  # the steps import when all_recipes() is called, not with the package
    from wizard.recipe import Recipe


def all_recipes() -> List[Recipe]:
    """A fresh instance of every step, in the order they run."""
    from .acme import AcmeRecipe
    from .aliases import AliasesRecipe
    from .certificate import CertificateRecipe
    from .dkim import DkimRecipe
    from .dovecot_basics import DovecotBasicsRecipe
    from .epel import EpelRecipe
    from .firewall import FirewallRecipe
    from .health_timer import HealthTimerRecipe
    from .maildir import MaildirRecipe
    from .packages import PackagesRecipe
    from .postfix_basics import PostfixBasicsRecipe
    from .preflight import PreflightRecipe
    from .quota import QuotaRecipe
    from .relay import RelayRecipe
    from .restrictions import RestrictionsRecipe
    from .sasl import SaslRecipe
    from .services import ServicesRecipe
    from .tls_dovecot import TlsDovecotRecipe
    from .tls_postfix import TlsPostfixRecipe

    return [PreflightRecipe(), EpelRecipe(), PackagesRecipe(), PostfixBasicsRecipe(),
            DovecotBasicsRecipe(), MaildirRecipe(), AliasesRecipe(), RestrictionsRecipe(),
            CertificateRecipe(), SaslRecipe(), TlsPostfixRecipe(), TlsDovecotRecipe(),
            QuotaRecipe(), RelayRecipe(), DkimRecipe(), ServicesRecipe(), FirewallRecipe(),
            AcmeRecipe(), HealthTimerRecipe()]
