"""``mailwizard queue`` and ``mailwizard log`` with a scripted executor: listing (text and
JSON), show, actions with their exact commands, confirmation, refusals, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import List, Tuple

import pytest

from wizard import cli, queuecli
from wizard.executor import FakeCommand, ScriptedExecutor

DATA = Path(__file__).parent / "maildata"
PQ37 = (DATA / "postqueue-j-3.7.jsonl").read_text()
PQ310 = (DATA / "postqueue-j-3.10.jsonl").read_text()
MAILQ_210 = (DATA / "postqueue-p-2.10.txt").read_text()


def run(tmp_path: Path, argv: List[str], script=None) -> Tuple[int, str, str, ScriptedExecutor]:
    ex = ScriptedExecutor(tmp_path, script or {"postqueue -j": FakeCommand(0, PQ37 + PQ310)})
    out, err = io.StringIO(), io.StringIO()
    code = queuecli.main(argv, out, err, executor=lambda root: ex)
    return code, out.getvalue(), err.getvalue(), ex


def test_list_text(tmp_path):
    code, out, _, ex = run(tmp_path, ["queue"])
    assert code == 0 and ex.calls == [["postqueue", "-j"]]
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "QUEUE", "AGE", "SIZE", "SENDER", "->", "RECIPIENTS"]
    assert lines[1].startswith("8F5061A005C      deferred") and \
        "alice@example.test -> bob@unreachable.test" in lines[1]
    assert lines[2].strip() == ("reason: connect to unreachable.test[10.201.9.9]:25: "
                                "Connection timed out")
    assert "<> -> carol@example.org" in out
    assert lines[-1].startswith("3 message(s) (1 active, 1 deferred, 1 hold); the oldest, "
                                "8F5061A005C, waits for")


def test_list_json(tmp_path):
    code, out, _, _ = run(tmp_path, ["queue", "list", "--json"])
    data = json.loads(out)
    assert code == 0 and data["summary"]["total"] == 3
    assert data["messages"][0]["recipients"][0]["reason"].endswith("Connection timed out")
    assert data["summary"]["by_queue"] == {"deferred": 1, "active": 1, "hold": 1}


def test_list_on_postfix_210_and_empty(tmp_path):
    code, out, _, _ = run(tmp_path, ["queue"], {
        "postqueue -j": FakeCommand(64, "", "postqueue: invalid option -- 'j'"),
        "postqueue -p": FakeCommand(0, MAILQ_210)})
    assert code == 0 and "A1B2C3D4E5       hold" in out
    code, out, _, _ = run(tmp_path, ["queue"], {"postqueue -j": FakeCommand(0, "")})
    assert (code, out) == (0, "The mail queue is empty.\n")


def test_queue_down_is_exit_1(tmp_path):
    code, _, err, _ = run(tmp_path, ["queue"], {"postqueue -j": FakeCommand(
        69, "", "postqueue: fatal: Queue report unavailable - mail system is down")})
    assert code == 1 and "mail system is down" in err


def test_show(tmp_path):
    postcat = "*** ENVELOPE RECORDS deferred/8F5061A005C ***\nmessage_size: 3255\x1b[2J\n"
    code, out, _, ex = run(tmp_path, ["queue", "show", "8F5061A005C"],
                           {"postcat": FakeCommand(0, postcat)})
    assert code == 0 and ex.calls == [["postcat", "-e", "-h", "-q", "8F5061A005C"]]
    assert "message_size: 3255\\x1b[2J" in out and "\x1b" not in out
    code, out, _, ex = run(tmp_path, ["queue", "show", "8F5061A005C", "--body"],
                           {"postcat": FakeCommand(0, postcat)})
    assert ex.calls == [["postcat", "-e", "-h", "-b", "-q", "8F5061A005C"]]
    code, _, err, _ = run(tmp_path, ["queue", "show", "ABCDEF1"], {"postcat": FakeCommand(
        1, "", "postcat: fatal: open queue file ABCDEF1: No such file or directory")})
    assert code == 1 and "no message ABCDEF1 in the queue" in err


@pytest.mark.parametrize("argv, cmd", [
    (["queue", "flush"], ["postqueue", "-f"]),
    (["queue", "flush", "8F5061A005C"], ["postqueue", "-i", "8F5061A005C"]),
    (["queue", "hold", "8F5061A005C"], ["postsuper", "-h", "8F5061A005C"]),
    (["queue", "release", "4dLqBv0Tm7z3Ck7"], ["postsuper", "-H", "4dLqBv0Tm7z3Ck7"]),
])
def test_actions_without_confirmation(tmp_path, argv, cmd):
    code, out, _, ex = run(tmp_path, argv)
    assert code == 0 and ex.calls == [cmd], ex.calls
    assert out.endswith(f"Done: {' '.join(cmd)}\n")


def test_delete_needs_confirmation_without_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, _, ex = run(tmp_path, ["queue", "delete", "8F5061A005C"])
    assert code == 4 and "pass --yes" in out
    assert ex.calls == [["postqueue", "-j"]]  # looked, deleted nothing
    code, out, _, ex = run(tmp_path, ["queue", "delete", "8F5061A005C", "--yes"])
    assert code == 0 and ex.calls[-1] == ["postsuper", "-d", "8F5061A005C"]
    assert "Delete 1 message(s):" in out
    code, out, _, ex = run(tmp_path, ["queue", "delete", "--all-deferred", "-y"])
    assert code == 0 and ex.calls[-1] == ["postsuper", "-d", "ALL", "deferred"]
    code, out, _, ex = run(tmp_path, ["queue", "hold", "--all"])
    assert code == 4 and len(ex.calls) == 1
    code, out, _, ex = run(tmp_path, ["queue", "delete", "ABCDEF9", "--yes"])
    assert code == 1 and "No message ABCDEF9" in out and len(ex.calls) == 1


@pytest.mark.parametrize("argv", [
    ["queue", "delete"], ["queue", "delete", "ALL"], ["queue", "delete", "--all"],
    ["queue", "show"], ["queue", "hold", "8F5061A005C;reboot"], ["queue", "frobnicate"],
    ["queue", "show", "abc\x1b[2J"], ["queue", "release", "--all-deferred"],
    ["queue", "hold", "ABCDEF1", "--all"], ["queue", "show", "ABCDEF1", "--json"],
    ["queue", "list", "ABCDEF1"], ["log", "--since", "1y"], ["log", "--address", "a b"],
    ["log", "--kind", "everything"]])
def test_bad_input_is_exit_2_and_runs_nothing(tmp_path, argv):
    code, _, err, ex = run(tmp_path, argv)
    assert code == 2, err
    assert ex.calls == []
    assert "\x1b" not in err


def test_log_text_and_json(tmp_path):
    (tmp_path / "var/log").mkdir(parents=True)
    (tmp_path / "var/log/maillog").write_text((DATA / "maillog-el.log").read_text())
    argv = ["log", "--platform", "rocky9", "--since", "366d"]
    code, out, _, _ = run(tmp_path, argv)
    assert code == 0, out
    lines = out.splitlines()
    assert any(" delivered   3A1B22C0D4  someone@example.org -> alice@example.test "
               "relay=local (delivered to maildir)" in x for x in lines), out
    assert any("rejected" in x and "Relay access denied" in x for x in lines)
    assert lines[-1] == "Read: /var/log/maillog."
    code, out, _, _ = run(tmp_path, argv + ["--address", "bob", "--json"])
    data = json.loads(out)
    assert [e["kind"] for e in data["events"]] == ["auth-failed"]
    assert data["counts"]["auth-failed"] == 1 and data["sources"] == ["/var/log/maillog"]
    code, out, _, _ = run(tmp_path, argv + ["--kind", "rejected", "--kind", "delivered"])
    assert "auth-failed" not in out and "delivered" in out and "rejected" in out


def test_log_without_any_source_is_exit_1(tmp_path):
    code, out, _, _ = run(tmp_path, ["log", "--platform", "debian12"])
    assert code == 1 and "Note: /var/log/mail.log does not exist." in out


def test_cli_dispatches_queue_and_log(tmp_path, capsys):
    assert cli.main(["queue", "show", "not-an-id", "--root", str(tmp_path)]) == 2
    assert "not a Postfix queue id" in capsys.readouterr().err


def test_errors_never_echo_control_characters(tmp_path):
    code, _, err, _ = run(tmp_path, ["queue", "hold", "--root", "/x\x1b[2J", "\x1b]0;x\x07"])
    assert code == 2 and "\x1b" not in err and "\x07" not in err


def test_cli_sends_exactly_the_queue_verbs_to_their_parser():
    """wizard.cli knows the verbs without importing wizard.queuecli (a lighter start)."""
    import subprocess
    import sys

    from wizard import cli, queuecli

    assert cli.OWN_PARSER_VERBS == queuecli.VERBS
    out = subprocess.run([sys.executable, "-c", "import sys, wizard.cli; "
                          "print('wizard.queuecli' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
