"""A peer's TLS test suite against a server configured by ``mailwizard apply`` (Debian 12 and
13): testssl.sh
(Debian package ``testssl.sh``, run from the host into the lab) on 587 (STARTTLS), 993, 995
and 25 (STARTTLS).

* 587, 993, 995 (clients with passwords): no NULL or anonymous (aNULL) suites, no export,
  LOW, 3DES or obsolete CBC suites (AEAD only: every OpenSSL of our platforms has them), and
  nothing below TLS 1.2;
* 25 (server to server, opportunistic): Postfix's defaults stay. Raising its floor pushes
  old peers to plaintext, which is worse than old TLS. The effective protocols and cipher
  grade of the ``smtp`` service are Postfix's defaults (``postconf -d``); TLS 1.2 and 1.3
  are offered, never a NULL (unencrypted) suite.

testssl.sh's ``-p`` (protocols) and ``-s`` (standard cipher categories) findings are read
from its JSON file; the run takes about 15-40 s per port (see README.md).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Dict, List

import lab
import mwlab
import pytest
from mwlab import Deployed, host_run

pytestmark = pytest.mark.e2e

TESTSSL = "testssl"           # /usr/bin/testssl of Debian's testssl.sh
STARTTLS = {25: "smtp", 587: "smtp", 993: "", 995: ""}
BELOW_12 = ("SSLv2", "SSLv3", "TLS1", "TLS1_1")
WEAK = ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
        "cipherlist_3DES_IDEA", "cipherlist_AVERAGE")


def run_testssl(ip: str, port: int, workdir: Path) -> Dict[str, str]:
    """id -> finding of ``testssl -p -s`` against ip:port (STARTTLS where the port needs it)."""
    out = workdir / f"testssl-{port}.json"
    argv = [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
            "--connect-timeout", "10", "--openssl-timeout", "10", "-p", "-s",
            "--jsonfile", str(out)]
    if STARTTLS[port]:
        argv += ["-t", STARTTLS[port]]
    t0 = time.monotonic()
    r = host_run(argv + [f"{ip}:{port}"], timeout=600)
    lab._record(f"testssl_{port}", time.monotonic() - t0)
    assert out.is_file(), r.stdout[-3000:] + r.stderr[-3000:]
    items: List[Dict[str, str]] = json.loads(out.read_text())
    found = {i["id"]: i["finding"] for i in items if "id" in i}
    (workdir / f"testssl-{port}.txt").write_text(r.stdout)
    return found


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def dep(request: pytest.FixtureRequest):
    if shutil.which(TESTSSL) is None:
        pytest.skip("testssl.sh is not installed (run tests/e2e/host-deps.sh)")
    suite = request.param
    with mwlab.deployed(request, suite, record=f"testssl_apply_{suite}") as d:
        yield d


@pytest.fixture(scope="module")
def findings(dep: Deployed, tmp_path_factory: pytest.TempPathFactory):
    """Per server (suite): port -> testssl findings, run on first use."""
    cache: Dict[int, Dict[str, str]] = {}
    work = tmp_path_factory.mktemp("testssl")

    def get(port: int) -> Dict[str, str]:
        if port not in cache:
            cache[port] = run_testssl(dep.srv.ip, port, work)
        return cache[port]

    return get


def offered(finding: str) -> bool:
    """testssl's wording: "offered", "offered (deprecated)", "not offered", "not offered and
    downgraded to a weaker protocol" ..."""
    f = finding.lower()
    return f.startswith("offered") or (" offered" in f and "not offered" not in f)


@pytest.mark.parametrize("port", [587, 993, 995])
def test_clients_ports_offer_nothing_below_tls12(findings, port: int):
    got = findings(port)
    assert all(p in got for p in (*BELOW_12, "TLS1_2", "TLS1_3")), got
    below = {p: got[p] for p in BELOW_12 if offered(got[p])}
    assert not below, f"port {port} offers protocols below TLS 1.2: {below}"
    assert offered(got["TLS1_2"]) and offered(got["TLS1_3"]), got


@pytest.mark.parametrize("port", [587, 993, 995])
def test_clients_ports_offer_no_anonymous_or_obsolete_suites(findings, port: int):
    got = findings(port)
    missing = [w for w in WEAK if w not in got]
    assert not missing, f"testssl gave no finding for {missing}: {sorted(got)}"
    weak = {w: got[w] for w in WEAK if offered(got[w])}
    assert not weak, f"port {port} offers weak suites: {weak}"
    assert offered(got["cipherlist_STRONG"]), got


def test_port_25_keeps_postfix_opportunistic_defaults(dep: Deployed, findings):
    srv = dep.srv
    for param in ("smtpd_tls_protocols", "smtpd_tls_ciphers", "smtpd_tls_exclude_ciphers"):
        default = srv.run(f"postconf -dh {param}").stdout.strip()
        main = srv.run(f"postconf -h {param}").stdout.strip()
        master = srv.run("postconf -P | grep '^smtp/inet/' || true").stdout
        assert main == default, f"{param} on 25 is {main!r}, Postfix's default {default!r}"
        assert f"/{param} =" not in master, master
    assert srv.run("postconf -h smtpd_tls_security_level").stdout.strip() == "may"
    got = findings(25)
    assert offered(got["TLS1_2"]) and offered(got["TLS1_3"]), got
    assert not offered(got["cipherlist_NULL"]), got
    print("port 25 as testssl sees it:",
          {k: got[k] for k in (*BELOW_12, *WEAK) if k in got})
