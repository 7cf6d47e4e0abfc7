"""The DNS records a domain served by this server needs: computed, shown, checked.

- :mod:`.record`: :class:`Record` (name, type, value, purpose, level, explanation, state);
- :mod:`.policy`: the texts of SPF, DMARC, MTA-STS (record and policy file) and TLS-RPT;
- :mod:`.records`: :func:`expected_records` from the answers, the public addresses and the
  DKIM key (pure);
- :mod:`.addresses`: which public addresses to publish;
- :mod:`.render`: BIND zone-file form (TXT split into 255-byte strings) and a table;
- :mod:`.check`: :func:`check_records` with dnspython (ok / missing / different, fast to fail);
- :mod:`.gather`: everything above for one target (reads the DKIM key and the addresses).
"""

from __future__ import annotations

from .addresses import public_addresses
from .check import (
    DIFFERENT,
    MISSING,
    OK,
    PRESENT,
    UNCHECKED,
    UNKNOWN,
    RecordCheck,
    check_records,
    make_resolver,
    parse_nameserver,
)
from .record import ADVICE, FILL, PENDING, PUBLISH, RECOMMENDED, REQUIRED, Record
from .records import DkimKey, expected_records, mta_sts_policies, receiving_domains
from .render import publish_line, render_table, render_zone, txt_strings

__all__ = ["ADVICE", "DIFFERENT", "FILL", "MISSING", "OK", "PENDING", "PRESENT", "PUBLISH",
           "RECOMMENDED", "REQUIRED", "UNCHECKED", "UNKNOWN", "DkimKey", "Record",
           "RecordCheck", "check_records", "expected_records", "make_resolver",
           "mta_sts_policies", "parse_nameserver", "public_addresses", "publish_line",
           "receiving_domains", "render_table", "render_zone", "txt_strings"]
