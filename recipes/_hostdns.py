"""The DNS questions two steps ask about this server: the resolver they share (fail fast,
the target's resolv.conf) and, in ACME mode, whether the host name points here (preflight
reports it; the acme step refuses to run certbot when it does not)."""

from __future__ import annotations

from typing import Any

from wizard.answers import Answers
from wizard.checks import CheckResult, failed, info, passed
from wizard.dnsrecords import public_addresses, publish_line
from wizard.dnsrecords.check import DEFAULT_TIMEOUT, resolve_addresses
from wizard.dnsrecords.records import expected_records
from wizard.dnsrecords.report import nameservers_from, target_resolver
from wizard.executor import Executor
from wizard.facts import interface_addresses


def dns_resolver(ex: Executor) -> Any:
    """A fail-fast resolver: $MAILWIZARD_NAMESERVER, else the target's resolv.conf."""
    try:
        return target_resolver(nameservers_from(None), str(ex.path("/etc/resolv.conf")),
                               DEFAULT_TIMEOUT)
    except ValueError:  # a bad $MAILWIZARD_NAMESERVER: the system's resolver
        return target_resolver((), None, DEFAULT_TIMEOUT)


ACME_CHECK = "host name resolves to this server (ACME)"


def acme_host_check(ex: Executor, answers: Answers, resolver: Any) -> CheckResult:
    """In ACME mode the CA validates the host name by connecting to it: its A/AAAA records
    must name one of this server's addresses (``dns.public_addresses`` or an interface's).
    Failed, with the record to publish, when they do not; informational when DNS cannot be
    asked or the server's addresses are unknown."""
    host = answers.hostname
    interface = interface_addresses(ex)
    ours = list(dict.fromkeys(list(answers.dns.public_addresses) + interface))
    lines = [publish_line(r) for r in expected_records(answers,
                                                        public_addresses(answers, interface)[0])
             if r.type in ("A", "AAAA") and r.known]
    publish = "; ".join(lines) or f"{host}. IN A <this server's public IPv4 address>"
    found, why = resolve_addresses(resolver, host)
    if found is None:
        return info(ACME_CHECK, f"could not look up {host}: {why}",
                    f"the certificate authority must reach this server as {host}: make sure "
                    f"DNS has {publish}")
    if not found:
        return failed(ACME_CHECK, f"{host} has no A or AAAA record",
                      f"the certificate authority cannot reach this server by name: "
                      f"publish {publish}, wait for it to be seen, then apply")
    if set(found) & set(ours):
        return passed(ACME_CHECK, f"{host} -> {', '.join(found)}")
    if not ours:
        return info(ACME_CHECK, f"{host} -> {', '.join(found)}; this server's addresses "
                                "could not be read",
                    "give them as dns.public_addresses in the answers to have this checked")
    return failed(ACME_CHECK, f"{host} -> {', '.join(found)}, not this server "
                              f"({', '.join(ours)})",
                  f"the certificate authority would connect elsewhere and the challenge "
                  f"would fail: publish {publish} (behind NAT, list the public address as "
                  "dns.public_addresses)")
