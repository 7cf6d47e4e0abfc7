"""DNS block lists: whether the resolver the server uses can get answers from them.

Spamhaus and other lists refuse queries that reach them through the big public resolvers and
answer those with 127.255.255.x instead of a listing (254: public resolver, 255: too many
queries). An unfiltered ``reject_rbl_client`` takes that for "listed" and rejects every
client; a return-code filter (``zen.spamhaus.org=127.0.0.[2..11]``) keeps mail flowing, but the
list then blocks nothing.
"""

from __future__ import annotations

import ipaddress
from typing import List, Optional, Sequence

from wizard import checks
from wizard.checks import CheckResult

RESOLV_CONF = "/etc/resolv.conf"
PUBLIC_RESOLVERS = frozenset(str(ipaddress.ip_address(a)) for a in (
    "8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844",          # Google
    "1.1.1.1", "1.0.0.1", "1.1.1.2", "1.0.0.2", "1.1.1.3", "1.0.0.3",               # Cloudflare
    "2606:4700:4700::1111", "2606:4700:4700::1001",
    "9.9.9.9", "149.112.112.112", "9.9.9.10", "9.9.9.11", "2620:fe::fe", "2620:fe::9",  # Quad9
    "208.67.222.222", "208.67.220.220", "2620:119:35::35", "2620:119:53::53",     # OpenDNS
    "94.140.14.14", "94.140.15.15", "2a10:50c0::ad1:ff", "2a10:50c0::ad2:ff",     # AdGuard
    "4.2.2.1", "4.2.2.2", "64.6.64.6", "64.6.65.6", "8.26.56.26", "185.228.168.9",
))
"""Well-known open resolvers. DNS block lists such as Spamhaus refuse queries that come
through them (Spamhaus answers 127.255.255.254 or .255 instead of a listing)."""



def nameservers(resolv_conf: Optional[str]) -> List[str]:
    """The ``nameserver`` addresses of a resolv.conf text, in order."""
    out = []
    for line in (resolv_conf or "").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            out.append(words[1])
    return out


def _public(address: str) -> bool:
    try:
        return str(ipaddress.ip_address(address.split("%")[0])) in PUBLIC_RESOLVERS
    except ValueError:
        return False


def resolver_check(resolv_conf: Optional[str], rbl: Sequence[str]) -> CheckResult:
    """Whether the block lists can answer: a public resolver gets refused, and an unfiltered
    reject_rbl_client then takes the refusal (127.255.255.x) for a listing."""
    name = "block lists reachable (resolver)"
    servers = nameservers(resolv_conf)
    public = [a for a in servers if _public(a)]
    if not public:
        return checks.passed(name, f"{RESOLV_CONF}: nameserver {', '.join(servers) or 'none'}")
    detail = f"{RESOLV_CONF} uses the public resolver(s) {', '.join(public)}"
    unfiltered = [r for r in rbl if "=" not in r]
    why = ("Spamhaus and other block lists refuse queries from public resolvers and answer "
           "with 127.255.255.x (254: public resolver, 255: too many queries) instead of a "
           "listing. Use a local resolver (e.g. unbound on this server) or your provider's.")
    if unfiltered:
        return checks.failed(name, detail + "; no return-code filter on "
                             + ", ".join(unfiltered),
                             why + " Without a filter such as =127.0.0.[2..11], Postfix takes "
                             "that answer for a listing and rejects every client.")
    return checks.info(name, detail, why + " The return-code filters keep mail flowing, but "
                       "the lists block nothing until the resolver changes.")
