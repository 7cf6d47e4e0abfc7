"""Step 13 (optional): open the mail ports in the running firewall (firewalld or ufw)."""

from __future__ import annotations

from typing import List, Tuple

from wizard import checks
from wizard.answers import Answers
from wizard.changes import Change, Command, Note
from wizard.checks import CheckResult
from wizard.platforms import Platform
from wizard.recipe import PlanContext, Recipe, VerifyContext


def wanted_ports(answers: Answers, platform: Platform) -> List[Tuple[str, int]]:
    """(firewalld service name, TCP port) pairs for these answers."""
    out = [("smtp", 25), (platform.firewalld_submission, 587)]
    if answers.imap:
        out.append(("imaps", 993))
    if answers.pop3:
        out.append(("pop3s", 995))
    if answers.plaintext_ports:
        if answers.imap:
            out.append(("imap", 143))
        if answers.pop3:
            out.append(("pop3", 110))
    if answers.certificate.mode == "acme":
        out.append(("http", 80))  # the ACME HTTP-01 challenge
    return out


def firewalld_changes(answers: Answers, platform: Platform) -> List[Change]:
    changes: List[Change] = []
    names = [name for name, _ in wanted_ports(answers, platform)]
    for name in names:
        changes.append(Command(
            ["firewall-cmd", "--permanent", f"--add-service={name}"],
            unless=["firewall-cmd", "--permanent", f"--query-service={name}"],
            # undo closes it in the saved and in the running configuration
            undo=["sh", "-c", f"firewall-cmd --permanent --remove-service={name} && "
                              f"{{ firewall-cmd --remove-service={name} || true; }}"],
            description=f"allow {name} permanently"))
    runtime_ok = " && ".join(f"firewall-cmd --query-service={n} >/dev/null" for n in names)
    changes.append(Command(
        ["firewall-cmd", "--reload"], unless=["sh", "-c", runtime_ok],
        description="load the permanent rules into the running firewall"))
    return changes


def ufw_changes(answers: Answers, platform: Platform) -> List[Change]:
    changes: List[Change] = []
    for _, port in wanted_ports(answers, platform):
        rule = f"{port}/tcp"
        changes.append(Command(
            ["ufw", "allow", rule],
            unless=["sh", "-c", f"ufw show added | grep -qx 'ufw allow {rule}'"],
            undo=["ufw", "delete", "allow", rule],
            description=f"allow TCP port {port}"))
    return changes


class FirewallRecipe(Recipe):
    id = "firewall"
    title = "Open the mail ports in the firewall"
    guide = "Guide 000, part 1 section 4 and part 3 section 8 (firewall ports)"
    summary = (
        "Opens SMTP (25), submission (587) and, as chosen, IMAPS (993) and POP3S (995), and "
        "HTTP (80) for the ACME challenge when certificates come from an ACME CA, in the "
        "firewall that is active on the server: firewalld (EL) as permanent services followed "
        "by a reload, or ufw (Ubuntu) as port rules. The clear-text ports 143 and 110 are "
        "opened only on request (logins there still need STARTTLS). When no firewall runs, "
        "the step changes nothing: no firewall is installed or switched on behind your back.")
    outdated = (
        "Hand-written iptables rules (guide 000) are lost at reboot unless saved and fight "
        "with firewalld/ufw on current systems; we use the firewall front end that is active.",
        "firewalld names port 587 `smtp-submission` (`submission` only from firewalld 2.1); "
        "several services in one --add-service=a,b argument are not accepted; rules without "
        "--permanent vanish at the next reload.",
        "Port 465 (smtps) is not opened because the tls-postfix step does not enable it.",
    )
    optional = True
    touches = ("firewalld", "ufw")

    def enabled(self, answers: Answers) -> bool:
        return answers.step_enabled("firewall")

    def plan(self, ctx: PlanContext) -> List[Change]:
        fw = ctx.facts.firewall
        if fw == "firewalld":
            return firewalld_changes(ctx.answers, ctx.platform)
        if fw == "ufw":
            return ufw_changes(ctx.answers, ctx.platform)
        ports = ", ".join(str(p) for _, p in wanted_ports(ctx.answers, ctx.platform))
        return [Note("no active firewall: nothing to open",
                     f"neither firewalld nor ufw is active; if another firewall (or your "
                     f"provider's) filters traffic, allow TCP {ports} there")]

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex, fw = ctx.executor, ctx.facts.firewall
        out: List[CheckResult] = []
        ports = wanted_ports(ctx.answers, ctx.platform)
        if fw == "firewalld":
            for name, port in ports:
                ok = ex.run(["firewall-cmd", f"--query-service={name}"], quiet=True,
                            timeout=60).ok
                out.append(CheckResult(f"firewalld allows {name}", ok, f"TCP {port}",
                                       "" if ok else f"firewall-cmd --permanent "
                                       f"--add-service={name} && firewall-cmd --reload"))
        elif fw == "ufw":
            res = ex.run(["ufw", "status"], quiet=True, timeout=60)
            lines = res.stdout.splitlines()
            for _, port in ports:
                ok = any(line.split()[:1] == [f"{port}/tcp"] and "ALLOW" in line
                         for line in lines)
                out.append(CheckResult(f"ufw allows {port}/tcp", ok, "",
                                       "" if ok else f"ufw allow {port}/tcp"))
        else:
            out.append(checks.info("firewall", "no active firewall (firewalld or ufw)"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        if platform.firewall == "firewalld":
            return ["firewall-cmd --list-services"]
        if platform.firewall == "ufw":
            return ["ufw status verbose"]
        return ["nft list ruleset 2>/dev/null || iptables -S"]
