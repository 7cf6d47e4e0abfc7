"""One DNS record mailwizard asks the admin to publish: :class:`Record` and its states."""

from __future__ import annotations

from dataclasses import dataclass

PUBLISH = "publish"
"""A record to publish exactly as shown."""
FILL = "fill"
"""A record whose value mailwizard does not know (the public address): fill it in."""
PENDING = "pending"
"""A record whose value is made when the steps are applied (the DKIM key)."""
ADVICE = "advice"
"""Not in the domain's zone: set by someone else (the PTR record, at the hosting provider)."""
STATES = (PUBLISH, FILL, PENDING, ADVICE)

REQUIRED = "required"
RECOMMENDED = "recommended"


@dataclass(frozen=True)
class Record:
    """A DNS record: where, what, why.

    ``name`` is absolute (ends in a dot), lower case. ``value`` is the record's data in zone
    file form, except for TXT records where it is the text itself (unquoted and not split:
    :func:`wizard.dnsrecords.render.txt_strings` splits it). For a :data:`FILL` or
    :data:`PENDING` record ``value`` is a description of what goes there, never a made-up
    value.
    """

    name: str
    type: str
    value: str
    purpose: str
    """A short label: ``MX``, ``SPF``, ``DKIM``, ``MTA-STS``, ..."""
    level: str
    """:data:`REQUIRED` or :data:`RECOMMENDED`."""
    explanation: str
    state: str = PUBLISH

    @property
    def required(self) -> bool:
        return self.level == REQUIRED

    @property
    def known(self) -> bool:
        """Whether ``value`` is the real record data (not a placeholder)."""
        return self.state in (PUBLISH, ADVICE)

    @property
    def display_name(self) -> str:
        return self.name.rstrip(".") or "."
