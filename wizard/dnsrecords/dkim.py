"""The DKIM record's inputs: the answers' selector and signing domains, and the public half
of the key on the target (:mod:`wizard.dkimkey` says where it lives and how the record reads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

from ..answers.dkim import signing_domains
from ..dkimkey import key_path, public_key_from_pem, txt_value
from .records import DkimKey

if TYPE_CHECKING:  # pragma: no cover
    from ..answers import Answers
    from ..executor import Executor


def dkim_key(answers: Answers) -> Optional[DkimKey]:
    """The record's inputs without the key (not made yet, or not read): None when DKIM
    signing is off."""
    if not answers.dkim.enabled:
        return None
    return DkimKey(answers.dkim.selector, tuple(signing_domains(answers)), None)


def target_dkim_key(ex: Executor, answers: Answers) -> Tuple[Optional[DkimKey], str]:
    """(inputs with the key read from the target when it is there, a note or '').

    Only the public half is derived; the private key's bytes go no further than here."""
    base = dkim_key(answers)
    if base is None:
        return None, ""
    path = key_path(base.selector)
    try:
        data = ex.read_bytes(path)
    except OSError as exc:
        return base, f"The DKIM key {path} could not be read ({exc.strerror or exc}): run " \
                     "as root to see its record."
    if data is None:
        return base, ""
    try:
        txt = txt_value(public_key_from_pem(data))
    except ValueError as exc:
        return base, f"The DKIM key {path} is not a usable RSA key ({exc})."
    return DkimKey(base.selector, base.domains, txt), ""
