"""The admin's answers: a validated, immutable model loaded from YAML or built by the TUI form.

Every field is checked by a small validator that returns a message naming the field; an answers
file with any bad field is refused as a whole (:class:`~wizard.errors.AnswersError` lists every
problem). Passwords are :class:`~wizard.secret.Secret` and are never written by
:meth:`Answers.to_dict` unless asked for.

Modules:

- :mod:`.validators`: single-value checks (host names, networks, users, addresses, paths,
  characters no answer may hold) and the alias-loop finder;
- :mod:`.base`: :class:`Parser` (one parse: data, errors by field) and :class:`Section`;
- the sections, one type per part of the answers file, each with its parse, ``to_dict``,
  ``summary`` and defaults: :mod:`.host` (:class:`Identity`, :class:`Network`,
  :class:`MailAccess`, :class:`Steps`), :mod:`.accounts` (:class:`Users`, :class:`Admin`,
  :class:`Aliases`), :mod:`.certificate` (:class:`Certificate`), :mod:`.smtpd`
  (:class:`Sasl`, :class:`Restrictions`), :mod:`.relay` (:class:`Relay`), :mod:`.dkim`
  (:class:`Dkim`, :func:`signing_domains`), :mod:`.dns` (:class:`Dns`), :mod:`.health`
  (:class:`HealthCheck`: the scheduled health report);
- :mod:`.model`: :class:`Answers` and :func:`parse_answers` composing the sections;
- :mod:`.reader`: :func:`read_answers_file` (size, nesting and alias limits),
  :func:`load_answers`, :func:`dump_answers`, :func:`demo_answers_path`.
"""

from __future__ import annotations

from .accounts import Admin, Aliases, AliasMap, User, Users
from .base import Parser, Section
from .certificate import (
    ACME_CHALLENGES,
    CERT_MODES,
    KEY_TYPES,
    LETSENCRYPT_DIRECTORY,
    Certificate,
    check_acme_directory,
    check_acme_email,
)
from .dkim import Dkim, check_selector, default_selector, signing_domains
from .dns import Dns, check_public_address
from .health import SCHEDULE_WORDS, HealthCheck, check_schedule, describe_schedule
from .host import INET_PROTOCOLS, OPTIONAL_STEPS, Identity, MailAccess, Network, Steps
from .model import (
    PARSE_ORDER,
    SECTIONS,
    TOP_KEYS,
    Answers,
    default_answers,
    form_defaults,
    parse_answers,
)
from .reader import (
    DEMO_DIR,
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    demo_answers_path,
    dump_answers,
    load_answers,
    read_answers_file,
)
from .relay import Relay
from .smtpd import SASL_BACKENDS, Restrictions, Sasl
from .validators import (
    Errors,
    check_address,
    check_domain,
    check_hostname,
    check_path,
    check_user,
    find_loop,
    normalize_network,
    report_address_error,
    text_problem,
)

_find_loop = find_loop  # the name the tests of issue 9 import

__all__ = [
    "ACME_CHALLENGES",
    "CERT_MODES",
    "DEMO_DIR",
    "INET_PROTOCOLS",
    "KEY_TYPES",
    "LETSENCRYPT_DIRECTORY",
    "MAX_YAML_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "OPTIONAL_STEPS",
    "PARSE_ORDER",
    "SASL_BACKENDS",
    "SECTIONS",
    "TOP_KEYS",
    "Admin",
    "AliasMap",
    "Aliases",
    "Answers",
    "Certificate",
    "Dkim",
    "Dns",
    "HealthCheck",
    "SCHEDULE_WORDS",
    "check_schedule",
    "describe_schedule",
    "report_address_error",
    "check_public_address",
    "Errors",
    "Identity",
    "MailAccess",
    "Network",
    "Parser",
    "Restrictions",
    "Relay",
    "Sasl",
    "Section",
    "Steps",
    "User",
    "Users",
    "check_acme_directory",
    "check_acme_email",
    "check_address",
    "check_domain",
    "check_hostname",
    "check_path",
    "check_selector",
    "check_user",
    "default_answers",
    "default_selector",
    "demo_answers_path",
    "dump_answers",
    "find_loop",
    "form_defaults",
    "load_answers",
    "normalize_network",
    "parse_answers",
    "read_answers_file",
    "signing_domains",
    "text_problem",
]
