"""The records for one target: :class:`DnsPlan` (records, MTA-STS policy files, notes).

The only module of the package that reads the target (its interface addresses, through
:func:`wizard.facts.interface_addresses`); the rest is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from ..facts import interface_addresses
from .addresses import public_addresses
from .dkim import target_dkim_key
from .record import Record
from .records import DkimKey, expected_records, mta_sts_policies
from .render import render_table, render_zone

if TYPE_CHECKING:  # pragma: no cover
    from ..answers import Answers
    from ..executor import Executor


@dataclass(frozen=True)
class DnsPlan:
    records: Tuple[Record, ...]
    policies: Tuple[Tuple[str, str], ...]
    """(URL, text) of each MTA-STS policy file."""
    notes: Tuple[str, ...]
    addresses: Tuple[str, ...]
    """The public addresses the A/AAAA records name (empty: unknown)."""

    def zone(self) -> str:
        return render_zone(self.records, self.policies, self.notes)

    def table(self) -> str:
        return render_table(self.records)


def dns_plan(answers: Answers, interface: Sequence[str] = (),
             dkim: Optional[DkimKey] = None, extra_notes: Sequence[str] = ()) -> DnsPlan:
    """The records for ``answers``, given the target's interface addresses and the DKIM
    record's inputs (:func:`wizard.dnsrecords.dkim.dkim_key`; None: no DKIM record)."""
    addresses, source = public_addresses(answers, interface)
    notes: List[str] = [f"Addresses from {source}." if addresses else source[:1].upper()
                        + source[1:] + "."]
    notes += [n for n in extra_notes if n]
    if dkim is not None and dkim.txt is None and not extra_notes:
        notes.append("The DKIM key is made when the steps are applied: run mailwizard dns "
                     "again afterwards for its record.")
    return DnsPlan(tuple(expected_records(answers, addresses, dkim)),
                   tuple(mta_sts_policies(answers)), tuple(notes), tuple(addresses))


def target_dns_plan(ex: Executor, answers: Answers) -> DnsPlan:
    """:func:`dns_plan` with the interface addresses and the DKIM key read from the
    target."""
    dkim, note = target_dkim_key(ex, answers)
    return dns_plan(answers, interface_addresses(ex), dkim, [note] if note else [])
