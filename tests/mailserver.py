"""A server set up by mailwizard, for the users/aliases tests (unit and TUI): a Debian 12
stock root whose maildir, aliases and restrictions steps were applied with the demo answers,
account tools simulated on the root and ``chpasswd`` writing its /etc/shadow from its input."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from allsteps import real_engine
from fake_target import DEMO_ANSWERS, FakeTarget

from wizard.executor import CommandResult, FakeCommand, ScriptedExecutor
from wizard.executor.accounts_sim import account_tool
from wizard.platforms import get_platform
from wizard.session import Session
from wizard.target import Target

PLATFORM = get_platform("debian12")
STEPS = ["maildir", "aliases", "restrictions"]


class Server(ScriptedExecutor):
    """Account tools act on the root; chpasswd writes /etc/shadow from its input."""

    def __init__(self, root: Path) -> None:
        acct = lambda a, ex: FakeCommand(account_tool(ex, a))  # noqa: E731

        def newaliases(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            (root / "etc/aliases.db").write_bytes((root / "etc/aliases").read_bytes())
            return FakeCommand()

        super().__init__(root, {**FakeTarget(root).script(), "useradd": acct,
                                "userdel": acct, "newaliases": newaliases})
        self.inputs: List[Tuple[List[str], Optional[str]]] = []

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            **kw: object) -> CommandResult:
        self.inputs.append((list(argv), input))
        if list(argv) == ["chpasswd"] and input is not None:
            name, _, pw = input.rstrip("\n").partition(":")
            shadow = self.root / "etc/shadow"
            lines = [x for x in (shadow.read_text().splitlines() if shadow.exists() else [])
                     if not x.startswith(name + ":")]
            shadow.write_text("\n".join(lines + [f"{name}:HASH({len(pw)}):19000::::::"]) + "\n")
        if argv and argv[0] == "userdel":  # the real userdel drops the shadow line too
            shadow = self.root / "etc/shadow"
            shadow.write_text("".join(x for x in shadow.read_text().splitlines(True)
                                      if not x.startswith(argv[-1] + ":")))
        return super().run(argv, input=input, **kw)  # type: ignore[arg-type]


def applied_server(tmp_path: Path) -> Tuple[Target, Session, Server]:
    """The server, its session (open: close it) and executor."""
    ft = FakeTarget.stock(tmp_path, PLATFORM)
    (ft.root / "etc/shadow").write_text("root:*:19000::::::\nalice:!:19000::::::\n"
                                        "bob:!:19000::::::\n")
    ex = Server(ft.root)
    state = tmp_path / "state"
    session = Session.open(state)
    session.bind(PLATFORM.id, str(ft.root), DEMO_ANSWERS.to_dict())
    engine = real_engine(DEMO_ANSWERS, PLATFORM, ex, session=session, facts=ft.facts())
    assert all(r.status == "applied" for r in engine.apply(STEPS))
    return Target(PLATFORM, ft.root, ex, state), session, ex
