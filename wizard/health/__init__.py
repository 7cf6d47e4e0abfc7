"""Health checks of a configured server (``mailwizard check``, the TUI's Health screen).

One module per kind of check, each turning what it reads into :class:`~.model.Finding` s
with a monitoring state: ``collect`` (the run over all of them), ``certs``, ``network``
(DNS records, reverse DNS, block lists, ports), ``queue`` (the queue's size, oldest message
and deferred reasons), ``logscan`` (failed logins and rejects of the last 24 h), ``disk``,
``drift`` (managed files edited since the last apply); ``model`` (states, exit codes, text
and JSON), ``notify`` (``--mail-to``), ``command`` (the verb).  The JSON form is described
by ``schema.json``.  The queue and the log are read and parsed by :mod:`wizard.mailqueue`,
:mod:`wizard.logsource` and :mod:`wizard.maillog` (shared with ``mailwizard queue``/``log``).
"""

from __future__ import annotations

from .model import CRITICAL, EXIT_CODES, OK, STATES, UNKNOWN, WARNING, Finding, Report

# ``collect`` (the run, with the certificate and DNS modules it needs) is imported by who runs
# the checks, not here: ``mailwizard`` builds its parser from :mod:`.command` at every start
__all__ = ["Finding", "Report", "OK", "WARNING", "CRITICAL",
           "UNKNOWN", "STATES", "EXIT_CODES"]
