"""pytest fixtures for mailwizard's end-to-end lab (see lab.py and README.md).

Fixtures:
  lab_image       (session)  cached image: debootstrap base, offline apt repo, golden trees
  trixie_image    (session)  the same for Debian 13 (trixie): lab.ensure_image("trixie")
  minimal_image   (session)  Debian 12 minbase + python3/python3-venv only (no procps ...)
  fresh_server    (function) booted bare server, offline repo attached, nothing mail-related
  server_factory  (function) factory(systemd=False, attach_debs=True) -> booted lab.Server;
                             every server it made is halted after the test
  lab_dns         (session)  lab_dns.LabDNS: the lab's authoritative DNS; ``lab_dns.attach(srv)``
                             serves a server (zones in lab_dns.py) and sets its resolv.conf
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Dict, List

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:          # works with --import-mode=importlib too
    sys.path.insert(0, str(HERE))

import lab  # noqa: E402

# nodeid -> servers used by that test (for failure reports)
_SERVERS: Dict[str, List[lab.Server]] = {}
_STATE = {"used": False}


def _track(node: pytest.Item, srv: lab.Server) -> None:
    _SERVERS.setdefault(node.nodeid, []).append(srv)


def _image(suite: str, variant: str = "default") -> lab.Image:
    reason = lab.missing_requirements()
    if reason:
        pytest.skip(reason)
    _STATE["used"] = True
    lab.cleanup_stale()                   # leftovers of crashed earlier runs
    try:
        return lab.ensure_image(suite, variant)
    except lab.LabUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def lab_image() -> lab.Image:
    """The cached lab image (built on first use: ~1-2 min, needs the Debian mirror)."""
    return _image(lab.SUITE)


@pytest.fixture(scope="session")
def trixie_image() -> lab.Image:
    """The Debian 13 (trixie) lab image: same packages, Python 3.13 (built on first use)."""
    return _image("trixie")


@pytest.fixture(scope="session")
def minimal_image() -> lab.Image:
    """Debian 12 debootstrap minbase plus only what mailwizard's README asks of a target
    (python3 with venv): no procps, iproute2, ssh, systemd or cron (built on first use)."""
    return _image(lab.SUITE, "minimal")


@pytest.fixture(scope="session")
def lab_dns():
    """The lab's DNS (one per session; threads of this process, no daemon): attach servers
    with ``lab_dns.attach(srv)`` before Postfix starts."""
    import lab_dns as labdns

    reason = lab.missing_requirements()
    if reason:
        pytest.skip(reason)
    with labdns.LabDNS() as dns:
        yield dns


@pytest.fixture
def fresh_server(request: pytest.FixtureRequest, lab_image: lab.Image):
    """A brand-new bare server: booted, /srv/debs attached, no mail packages installed."""
    try:
        with lab.booted(lab_image, track=lambda srv: _track(request.node, srv)) as srv:
            yield srv
    finally:
        _SERVERS.pop(request.node.nodeid, None)


@pytest.fixture
def server_factory(request: pytest.FixtureRequest, lab_image: lab.Image):
    """``server_factory(systemd=False, attach_debs=True) -> lab.Server`` (booted).

    ``systemd=True`` gives real systemd as the server's PID 1 (``systemctl`` works); the
    systemd image layer is built the first time (~10 s, offline)."""
    made: List[lab.Server] = []

    def factory(systemd: bool = False, attach_debs: bool = True) -> lab.Server:
        if systemd:
            reason = lab.systemd_unavailable()
            if reason:
                pytest.skip(f"systemd variant: {reason}")
        srv = lab.Server(lab_image, systemd=systemd)
        made.append(srv)
        _track(request.node, srv)
        srv.boot()
        if attach_debs:
            srv.attach_debs()
        return srv

    f: Callable[..., lab.Server] = factory
    try:
        yield f
    finally:
        for srv in made:
            srv.halt()
        _SERVERS.pop(request.node.nodeid, None)


def _servers_of(item: pytest.Item) -> List[lab.Server]:
    """Servers a test used: from our fixtures, lab.track_module_server(), or any fixture value
    that is a Server or holds one in an attribute (e.g. a dataclass with ``.srv``)."""
    found: List[lab.Server] = list(_SERVERS.get(item.nodeid, []))
    found += lab.tracked_servers(str(getattr(item, "path", "")) or None)
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, lab.Server):
            found.append(value)
        else:
            attrs = getattr(value, "__dict__", None) or {}
            found += [v for v in attrs.values() if isinstance(v, lab.Server)]
    unique: List[lab.Server] = []
    for srv in found:
        if srv.alive and all(srv is not u for u in unique):
            unique.append(srv)
    return unique


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On failure of a test that uses lab servers, attach their mail logs and configs."""
    rep = yield
    if rep.failed and rep.when in ("setup", "call"):
        for srv in _servers_of(item):
            try:
                for title, text in srv.diagnostics():
                    rep.sections.append((f"{srv.name}: {title}", text))
            except Exception as exc:  # noqa: BLE001 - a report must never break the run
                rep.sections.append((f"{srv.name}: diagnostics", f"<failed: {exc!r}>"))
    return rep


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    faults = sys.modules.get("faultlab")       # test_faults.py: injected / resumed / exact
    if faults is not None and faults.TOTALS.points:
        terminalreporter.write_sep("-", "fault injection totals")
        for line in faults.TOTALS.lines():
            terminalreporter.write_line(line)
    if not lab.TIMINGS:
        return
    terminalreporter.write_sep("-", "e2e lab timings (s)")
    for name, vals in sorted(lab.TIMINGS.items()):
        terminalreporter.write_line(
            f"{name:22s} n={len(vals):3d}  min={min(vals):7.2f}  max={max(vals):7.2f}  "
            f"mean={sum(vals) / len(vals):7.2f}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Nothing may be left: mounts, netns, veths, server processes, cgroups.  Anything found
    is killed/removed and the session fails."""
    if not _STATE["used"] or lab.missing_requirements():
        return
    lab._halt_all()                       # servers a broken fixture may have leaked
    left = lab.leftovers()
    if not left:
        return
    lab.cleanup()
    still = lab.leftovers()
    msg = ["e2e lab left things behind (now cleaned up):", *("  " + x for x in left)]
    if still:
        msg += ["and could NOT clean:", *("  " + x for x in still)]
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_sep("!", "e2e leftovers", red=True)
        for line in msg:
            tr.write_line(line, red=True)
    else:
        print("\n".join(msg), file=sys.stderr)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
