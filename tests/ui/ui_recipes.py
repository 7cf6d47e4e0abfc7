"""Small recipes for the TUI tests: stable, fast, and independent of the real recipes."""

from __future__ import annotations

from typing import List

from wizard.changes import Change, Command, FileWrite, PostfixParams
from wizard.checks import CheckResult, failed, info, passed
from wizard.recipe import PlanContext, Recipe, VerifyContext

MOTD = "/etc/mailwizard-test/motd"


class HostnameStep(Recipe):
    id = "test-hostname"
    title = "Name the server"
    guide = "Guide 000, part 1: Postfix"
    summary = ("Tells Postfix the server's name and mail domain, so it greets other servers "
               "with a name that resolves back to it.")
    outdated = ("The guide edits main.cf by hand with vi; we edit it in Python with postconf "
                "semantics and keep every comment.",)
    touches = ("/etc/postfix/main.cf",)

    def plan(self, ctx: PlanContext) -> List[Change]:
        a = ctx.answers
        return [
            PostfixParams({"myhostname": a.hostname, "mydomain": a.domain}),
            FileWrite(MOTD, f"Mail for {a.domain} is handled by {a.hostname}.\n",
                      reason="a banner for the admins"),
            Command(["newaliases"], description="rebuild the aliases database",
                    after_files=["/etc/postfix/main.cf"]),
        ]

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        text = ctx.executor.read_text("/etc/postfix/main.cf") or ""
        want = f"myhostname = {ctx.answers.hostname}"
        return [
            passed("myhostname set", want) if want in text else failed(
                "myhostname set", "not found", "main.cf does not name the server"),
            info("banner", MOTD),
        ]


class GreylistStep(Recipe):
    id = "test-greylist"
    title = "Greylisting"
    guide = "Guide 002: postgrey"
    summary = "Asks unknown senders to try again later; real servers do, most spam bots do not."
    optional = True

    def plan(self, ctx: PlanContext) -> List[Change]:
        return [FileWrite("/etc/mailwizard-test/greylist.conf", "delay = 300\n")]


class BrokenStep(Recipe):
    id = "test-broken"
    title = "A step whose command fails"
    summary = "Writes a file, then runs a command that fails: the file is put back."

    def plan(self, ctx: PlanContext) -> List[Change]:
        return [FileWrite("/etc/mailwizard-test/broken.conf", "broken = yes\n"),
                Command(["postfix", "check"], description="check the configuration")]


def test_recipes() -> List[Recipe]:
    return [HostnameStep(), GreylistStep()]


test_recipes.__test__ = False  # type: ignore[attr-defined]
