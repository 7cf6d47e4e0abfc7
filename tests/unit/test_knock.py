"""While a daemon stops, mailwizard knocks on its listener: libmilter (OpenDKIM) looks at its
stop flag only when its listener's 5-second poll returns, and a connection makes it return."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest
from fake_target import make_engine

from wizard import changes as ch
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.executor.knock import Knocker, knock_once, parse
from wizard.recipe import Recipe
from wizard.session import Session


class Milter:
    """libmilter's listener loop in small: poll up to 5 s, then look at the stop flag."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.stop = threading.Event()
        self.accepted = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 5.0)
            if ready:
                conn, _ = self.sock.accept()
                conn.close()
                self.accepted += 1
        self.sock.close()


def test_parse_takes_loopback_listeners_only() -> None:
    assert parse("local:/var/spool/postfix/opendkim/opendkim.sock") == \
        "/var/spool/postfix/opendkim/opendkim.sock"
    assert parse("unix:/run/x.sock") == "/run/x.sock"
    assert parse("inet:8891@127.0.0.1") == ("127.0.0.1", 8891)
    assert parse("inet:8891@[::1]") == ("::1", 8891)
    for bad in ("inet:8891@10.0.0.1", "inet:8891@example.com", "inet:0@127.0.0.1",
                "inet:70000@127.0.0.1", "local:relative.sock", "local:/a b", "local:/a\n",
                "/run/x.sock", "", "inet6:8891@::1"):
        with pytest.raises(ValueError):
            parse(bad)


def test_a_knock_wakes_the_listener_at_once(tmp_path: Path) -> None:
    milter = Milter(tmp_path / "m.sock")
    time.sleep(0.05)  # the listener sits in its poll
    t0 = time.monotonic()
    milter.stop.set()  # SIGTERM: the flag only
    with Knocker(tmp_path / "m.sock"):
        milter.thread.join(timeout=10)
    assert not milter.thread.is_alive()
    assert time.monotonic() - t0 < 2.0  # not the 5 s poll
    assert milter.accepted >= 1


def test_knock_once_tolerates_a_missing_or_refusing_socket(tmp_path: Path) -> None:
    assert knock_once(tmp_path / "none.sock") is False
    assert knock_once(tmp_path / "no-dir" / "x.sock") is False
    assert knock_once(("127.0.0.1", 1)) is False


# --------------------------------------------------------------------------- Service wiring
class Knocking(ScriptedExecutor):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.knocked: List[str] = []
        self.inside = False

    def knocking(self, address: str) -> Any:
        parse(address)  # what the real executor does first

        @contextlib.contextmanager
        def block() -> Iterator[None]:
            self.knocked.append(address)
            self.inside = True
            try:
                yield
            finally:
                self.inside = False
        return block()


WAKE = "local:/run/milter/m.sock"


class Milt(Recipe):
    id = "milt"
    title = "A milter"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.Service("milt", action="start", wake=WAKE,
                           direct={"start": [["miltd", "start"]], "stop": [["miltd", "stop"]],
                                   "status": [["miltd", "status"]]})]


def test_rollback_knocks_while_the_milter_stops(target_root: Path, tmp_path: Path) -> None:
    running = {"milt": False}
    stops: List[Tuple[str, bool]] = []
    ex: Knocking

    def daemon(argv: List[str], _ex: ScriptedExecutor) -> FakeCommand:
        verb = argv[1]
        if verb == "status":
            return FakeCommand(0 if running["milt"] else 3)
        if verb == "stop":
            stops.append((verb, ex.inside))
        running["milt"] = verb == "start"
        return FakeCommand(0)

    ex = Knocking(target_root, {"miltd": daemon})
    with Session.open(tmp_path / "state") as session:
        eng = make_engine(target_root, session, [Milt()], ex)
        assert all(r.status == "applied" for r in eng.apply())
        assert ex.knocked == []  # starting knocks on nothing
        assert session.journal[0]["record"]["wake"] == WAKE
        res = eng.rollback()
        assert not res.errors and res.undone == 1
    assert stops == [("stop", True)]
    assert ex.knocked == [WAKE]
    assert running["milt"] is False


def test_a_record_with_another_address_stops_without_knocking(target_root: Path) -> None:
    calls: List[bool] = []
    ex: Knocking

    def daemon(argv: List[str], _ex: ScriptedExecutor) -> FakeCommand:
        if argv[1] == "status":
            return FakeCommand(0)
        calls.append(ex.inside)
        return FakeCommand(0)

    ex = Knocking(target_root, {"miltd": daemon})
    rec = {"manager": "direct", "was_running": False, "was_enabled": True, "name": "milt",
           "unit": "milt", "status_unit": "milt", "enable": True,
           "direct": {"stop": [["miltd", "stop"]], "status": [["miltd", "status"]]},
           "wake": "inet:25@192.0.2.1"}
    ctx = ch.ChangeContext(ex, None, None)  # type: ignore[arg-type]
    assert ch.Service.undo_record(ctx, rec) == []
    assert calls == [False] and ex.knocked == []
