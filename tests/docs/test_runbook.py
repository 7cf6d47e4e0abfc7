"""The dry-run runbook (wizard/runbook/): complete, executable as written, no secrets.

Expectations are derived from ``Engine.plan()`` at test time, for the real recipes
(``recipes.real_steps()``, whatever exists so far) and for a synthetic set that uses every
Change type, so the checks have teeth while the recipes are being written.

The execution tests run the extracted shell blocks on the host, but every path they touch is
under pytest's ``tmp_path``: the synthetic recipe plans its files there (absolute target paths
that are also host paths), and ``Engine.apply`` gets a ScriptedExecutor over another temp root.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import yaml
from allsteps import real_steps

from wizard import confedit
from wizard.answers import Answers, demo_answers_path, load_answers
from wizard.changes import (
    AliasEntries,
    Change,
    Command,
    Directory,
    DovecotSettings,
    FileWrite,
    GeneratedFile,
    MasterService,
    Packages,
    PostfixParams,
    Service,
    ShellVars,
    UserGroup,
)
from wizard.engine import Engine, StepPlan
from wizard.executor import DryRunExecutor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import PlanContext, Recipe
from wizard.runbook import (
    APPLY,
    BACKUP,
    BACKUP_SUFFIX,
    ROLLBACK,
    VERIFY,
    extract_commands,
    render_markdown,
    render_runbook,
)
from wizard.session import Session

PLATFORMS = ["rocky9", "centos7", "debian12", "ubuntu24.04"]
STEP_IDS = ["preflight", "packages", "postfix-basics", "dovecot-basics", "maildir", "aliases",
            "restrictions", "certificate", "sasl", "tls-postfix", "tls-dovecot", "services",
            "firewall"]
"""The 13 steps of the design (the order is the recipes' business)."""
PASSWORD = "Corr3ct-Horse-Battery"


# --------------------------------------------------------------------------- synthetic steps
class ShowcaseRecipe(Recipe):
    """Every Change type against ordinary target paths (planned in a dry run only)."""

    id = "showcase"
    title = "Showcase of every change type"
    guide = "Guide 000, part 9 'Nothing'"
    summary = "Uses every Change type so the runbook tests cover them all."
    outdated = ("The guide uses <b>tags</b> and `backticks` in its advice.",)

    def plan(self, ctx: PlanContext) -> List[Change]:
        return [
            Packages(ctx.platform.pkg_manager, install=["postfix", "dovecot"],
                     remove=list(ctx.platform.packages_remove),
                     debconf=["postfix postfix/main_mailer_type select Internet Site"]
                     if ctx.platform.is_debian else []),
            PostfixParams({"myhostname": ctx.answers.hostname, "relay_domains": ""}),
            MasterService([confedit.MasterEntry(
                "submission", "inet", "n", "-", "n", "-", "-", "smtpd",
                (("syslog_name", "postfix/submission"),))]),
            FileWrite("/etc/postfix/showcase_map", "a@example.org REJECT\n", mode=0o640),
            Command(["postmap", "hash:/etc/postfix/showcase_map"],
                    after_files=["/etc/postfix/showcase_map"],
                    creates="/etc/postfix/showcase_map.db",
                    undo=["rm", "-f", "/etc/postfix/showcase_map.db"]),
            Command(["chpasswd"], input=f"alice:{PASSWORD}\n", description="set a password"),
            GeneratedFile("/etc/showcase/key.pem", lambda: "secret\n",
                          preview_text="(a new private key, generated at apply time)\n",
                          mode=0o600),
            GeneratedFile("/etc/showcase/cert.pem", lambda: "cert\n",
                          preview_text="(a self-signed certificate, generated at apply time)\n"),
            Directory("/var/showcase", mode=0o750),
            UserGroup(user="alice", set_password=True),
            UserGroup(group="mailusers"),
            UserGroup(user="alice", member_of="mailusers"),
            AliasEntries({"postmaster": ["root"]}),
            Service("postfix", action="reload"),
            Service("dovecot"),
        ]


class OffRecipe(Recipe):
    id = "switched-off"
    title = "A step the answers turn off"
    optional = True

    def enabled(self, answers: Answers) -> bool:
        return False

    def plan(self, ctx: PlanContext) -> List[Change]:  # pragma: no cover - never planned
        raise AssertionError("a disabled step is not planned")


def synthetic_recipes() -> List[Recipe]:
    return [ShowcaseRecipe(), OffRecipe()]


# --------------------------------------------------------------------------- helpers
def demo_answers() -> Answers:
    return load_answers(demo_answers_path())


def answers_with_password(tmp_path: Path) -> Answers:
    data = yaml.safe_load(demo_answers_path().read_text())
    data["users"] = [{"name": "alice", "create": True, "password": PASSWORD},
                     {"name": "bob", "create": True}]
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_answers(path)


def dry_engine(tmp_path: Path, platform: str, answers: Optional[Answers] = None,
               recipes: Optional[List[Recipe]] = None) -> Engine:
    root = tmp_path / f"dry-{platform}"
    root.mkdir(exist_ok=True)
    return Engine(answers or demo_answers(), get_platform(platform), DryRunExecutor(root),
                  recipes=recipes if recipes is not None else real_steps())


def _command_lines(cmd: str) -> List[str]:
    """The lines of a preview command as they must appear (comments aside)."""
    out = []
    for line in cmd.splitlines():
        core = re.split(r"\s{2,}# ", line, maxsplit=1)[0].strip()
        if core:
            out.append(core)
    return out


def sections(md: str) -> Dict[str, str]:
    """Level-2 heading -> its text, splitting only on headings outside code blocks."""
    out: Dict[str, str] = {}
    current: Optional[str] = None
    fence: Optional[str] = None
    for line in md.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m and fence is None:
            fence = m.group(1)
        elif fence is not None and line.strip() and set(line.strip()) == {fence[0]} and len(
                line.strip()) >= len(fence):
            fence = None
        elif fence is None and line.startswith("## "):
            current = line[3:].replace("\\<", "<")
            out[current] = ""
            continue
        if current is not None:
            out[current] += line + "\n"
    return out


APPENDIX = "Appendix: the edited files in full"


def check_complete(md: str, plans: List[StepPlan]) -> None:
    """Every step, every changed file (diff or whole content) and every command is there.

    A structured edit (main.cf, master.cf, Dovecot, aliases, shell variables) is shown in its
    step as the commands an admin types (``postconf -e``, or ``sed -i`` replaying the diff),
    and the file it leaves is written whole once, in the appendix, by the command the last
    edit's preview gives."""
    lines = {line.strip() for line in md.splitlines()}
    parts = sections(md)
    appendix = parts.get(APPENDIX, "")
    in_appendix = re.findall(r"^### (/\S+)$", appendix, re.M)
    assert len(in_appendix) == len(set(in_appendix)), in_appendix  # each file once
    last_write: Dict[str, str] = {}
    for n, sp in enumerate(plans, 1):
        heading = f"{n}. {sp.recipe.title or sp.id}"
        assert heading in parts, f"missing step heading {heading!r}"
        section = parts[heading]
        prose = section.replace("\\<", "<")  # Markdown escapes of recipe text
        assert f"`{sp.id}`" in section
        if not sp.enabled:
            assert "Skipped" in section, sp.id
            continue
        assert not sp.error, f"{sp.id}: {sp.error}"
        for change, pv in zip(sp.changes, sp.previews):
            assert pv.title in prose, (sp.id, pv.title)
            edited = pv.changed and pv.path in in_appendix and pv.new_content is None
            if pv.changed and pv.path:
                assert pv.path in section, (sp.id, pv.path)
                if pv.new_content is not None:  # a new file: shown in full
                    assert pv.new_content.rstrip("\n") in section, (sp.id, pv.path, "content")
                elif pv.diff:
                    assert pv.diff.rstrip("\n") in section, (sp.id, pv.path, "diff")
                if pv.commands:
                    last_write[pv.path] = pv.commands[0]
            if edited and isinstance(change, PostfixParams):
                for k, v in change.params.items():
                    assert shlex.quote(f"{k} = {v}") in section, (sp.id, k)
                continue
            if edited:
                assert "sed -i --follow-symlinks" in section, (sp.id, pv.path)
                continue
            for cmd in pv.commands:
                for line in _command_lines(cmd):
                    assert line in lines or line in section, (sp.id, pv.title, line)
        assert "### Check by hand" in section and "### Roll back by hand" in section
        if sp.changes:
            assert f"```{VERIFY}" in section, f"{sp.id}: no manual checks"
    for path in in_appendix:
        for line in _command_lines(last_write[path]):
            assert line in appendix, (path, line)


# --------------------------------------------------------------------------- completeness
@pytest.mark.parametrize("platform", PLATFORMS)
def test_runbook_covers_the_real_plan(tmp_path: Path, platform: str) -> None:
    engine = dry_engine(tmp_path, platform)
    md = render_runbook(engine)
    plans = engine.plan()
    check_complete(md, plans)
    assert f"on {engine.platform.name}" in md.splitlines()[0]
    for label, _value in engine.answers.summary():
        assert f"| {label} |" in md
    for section in ("## Contents", "## Introduction", "## Your answers", "## Client settings",
                    "## DNS records", "## Test the finished server"):
        assert section in md
    assert "v=spf1 mx -all" in md and "DKIM" in md and "DMARC" in md and "PTR" in md
    for port in ("993", "995", "587"):
        assert f"| {port} |" in md
    # reproducible: no dates, same text twice
    assert render_runbook(engine) == md
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", md)


def test_all_thirteen_steps_are_documented(tmp_path: Path) -> None:
    have = [r.id for r in real_steps()]
    if len(have) < len(STEP_IDS):
        pytest.skip(f"only {len(have)} of {len(STEP_IDS)} recipes exist so far "
                    f"({', '.join(have) or 'none'}); the lead removes this skip when all exist")
    engine = dry_engine(tmp_path, "rocky9")
    md = render_markdown(engine)
    for step in STEP_IDS:
        assert md.count(f"Step id `{step}`") == 1, step


@pytest.mark.parametrize("platform", PLATFORMS)
def test_runbook_covers_every_change_type(tmp_path: Path, platform: str) -> None:
    engine = dry_engine(tmp_path, platform, recipes=synthetic_recipes())
    md = render_markdown(engine)
    check_complete(md, engine.plan())
    parts = sections(md)
    step = parts["1. Showcase of every change type"]
    assert "\\<b>tags\\</b> and `backticks`" in step  # recipe prose cannot inject HTML
    assert "```sh-interactive\npasswd alice\n```" in step
    assert "openssl genpkey" in step and "openssl req -new -x509" in step
    req = next(ln for ln in step.splitlines() if "openssl req -new -x509" in ln)
    # the hand-made certificate is a leaf too, never a CA (OpenSSL's req -x509 default)
    if engine.platform.is_el and engine.platform.major <= 8:  # OpenSSL < 3: v3_req section
        assert "-extensions v3_req" in req and "CA:TRUE" not in req
    else:
        assert "-addext basicConstraints=critical,CA:FALSE" in req
        assert "-addext keyUsage=critical,digitalSignature" in req
    if not (engine.platform.is_el and engine.platform.major <= 7):
        assert "-addext extendedKeyUsage=serverAuth" in req
    assert (f"f=$(readlink -f /etc/postfix/main.cf) && mv -f \"$f{BACKUP_SUFFIX}showcase\" "
            "\"$f\"") in step
    assert "rm -f /etc/postfix/showcase_map.db" in extract_commands(step, [ROLLBACK])[0]
    if engine.platform.is_debian:
        assert "DEBIAN_FRONTEND=noninteractive apt-get install" in step
        assert "apt-get purge" in step
    else:
        assert f"{engine.platform.pkg_manager} remove -y $added" in step
    # the undo removes what the install block wrote down as missing, not the whole list
    assert "# the packages this block adds: the undo removes these only" in step
    assert "systemctl disable --now dovecot" in step
    off = parts["2. A step the answers turn off"]
    assert "Skipped" in off and "```sh" not in off


@pytest.mark.parametrize("platform", PLATFORMS)
def test_edited_files_are_commands_in_the_steps_and_whole_once(tmp_path: Path,
                                                             platform: str) -> None:
    """main.cf is edited by five steps: each shows ``postconf -e`` lines (values quoted) and
    the file is written whole once, in the appendix; every other structured edit is an
    in-place ``sed`` in its step and its whole file is in the appendix too."""
    engine = dry_engine(tmp_path, platform)
    md = render_markdown(engine)
    plans = engine.plan()
    main_cf = "/etc/postfix/main.cf"
    writes = [b for b in extract_commands(md) if re.search(
        r"^cat > " + re.escape(main_cf) + " <<", b, re.M)]
    assert len(writes) == 1, len(writes)
    appendix = sections(md)[APPENDIX]
    assert writes[0].rstrip("\n") in appendix
    edits = [(sp, c) for sp in plans for c, pv in zip(sp.changes, sp.previews)
             if isinstance(c, PostfixParams) and pv.changed]
    assert len(edits) >= 3
    blocks = extract_commands(md)
    for sp, change in edits:
        step = next(v for k, v in sections(md).items() if k.endswith(sp.recipe.title))
        assert "postconf -e" in step
        for k, v in change.params.items():
            assert shlex.quote(f"{k} = {v}") in step, (sp.id, k)
    # every whole file of the appendix is written once in the whole runbook
    for path in re.findall(r"^### (/\S+)$", appendix, re.M):
        pattern = r"^(cat|head -c -1) > " + re.escape(shlex.quote(path)) + " <<"
        assert len([b for b in blocks if re.search(pattern, b, re.M)]) == 1, path
    # HTML: the appendix's long files are folded away
    page = render_runbook(engine, "html")
    tail = page[page.index('id="appendix-the-edited-files-in-full"'):]
    folded = [d.split("</details>")[0] for d in tail.split("<details>")[1:]]
    assert any("cat &gt; /etc/postfix/main.cf &lt;&lt;" in d for d in folded)


def test_the_runbook_asks_each_change_and_never_checks_its_type() -> None:
    """wizard/runbook renders from ``Change.shell_form``: no isinstance/issubclass/type() over
    a change type, and from wizard.changes it takes only the protocol's names."""
    import ast

    import wizard.changes
    import wizard.runbook

    change_names = set(wizard.changes.__all__)
    for f in sorted(Path(wizard.runbook.__file__).parent.glob("*.py")):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("changes"):
                assert {a.name for a in node.names} <= {"Change", "Preview", "ShellForm"}, (
                    f.name, [a.name for a in node.names])
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
                    "isinstance", "issubclass", "type"):
                used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                used |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                assert not used & change_names, (f.name, node.lineno, used & change_names)


# --------------------------------------------------------------------------- HTML
class _Checker(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: List[str] = []
        self.errors: List[str] = []
        self.ids: List[str] = []
        self.hrefs: List[str] = []
        self.tags: List[str] = []
        self.attrs: List[Tuple[str, str]] = []
        self.text: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((k, v or ""))
            if k == "id":
                self.ids.append(v or "")
            if k == "href":
                self.hrefs.append(v or "")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("platform", ["rocky9", "debian12"])
@pytest.mark.parametrize("synthetic", [False, True])
def test_html_is_self_contained_and_well_formed(tmp_path: Path, platform: str,
                                                synthetic: bool) -> None:
    engine = dry_engine(tmp_path, platform,
                        recipes=synthetic_recipes() if synthetic else None)
    page = render_runbook(engine, "html")
    assert page.startswith("<!DOCTYPE html>")
    c = _Checker()
    c.feed(page)
    c.close()
    assert not c.errors, c.errors[:5]
    assert not c.stack, f"unclosed: {c.stack}"
    text = "".join(c.text)
    for n, sp in enumerate(engine.plan(), 1):
        assert f"{n}. {sp.recipe.title}" in text
    # nothing loaded from anywhere: no scripts, no external links, styles inline
    assert "script" not in c.tags and "link" not in c.tags and "iframe" not in c.tags
    assert not [v for k, v in c.attrs if k in ("src", "srcset", "action")]
    assert all(h.startswith("#") for h in c.hrefs), [h for h in c.hrefs if h[:1] != "#"]
    assert "@import" not in page and "url(" not in page
    # the table of contents works: every link has its target, ids are unique
    assert len(c.ids) == len(set(c.ids))
    assert c.hrefs and all(h[1:] in c.ids for h in c.hrefs)
    # code is escaped: a heredoc's '<<' shows as text, never as markup
    assert "&lt;&lt;'MAILWIZARD_EOF'" in page or not synthetic


# --------------------------------------------------------------------------- secrets
def test_no_password_in_markdown_or_html(tmp_path: Path) -> None:
    answers = answers_with_password(tmp_path)
    assert answers.users[0].password is not None
    for recipes in (None, synthetic_recipes()):
        for platform in ("rocky9", "debian12"):
            engine = dry_engine(tmp_path, platform, answers=answers, recipes=recipes)
            for fmt in ("markdown", "html"):
                out = render_runbook(engine, fmt)
                assert PASSWORD not in out, (platform, fmt)
    # a command whose input holds the password becomes an interactive block with a placeholder
    engine = dry_engine(tmp_path, "rocky9", answers=answers, recipes=synthetic_recipes())
    md = render_markdown(engine)
    assert "chpasswd <<'MAILWIZARD_INPUT'\nalice:PASSWORD\n" in md
    assert not [b for b in extract_commands(md) if b.startswith("chpasswd")]


# --------------------------------------------------------------------------- extraction
def test_extract_commands_takes_only_apply_blocks() -> None:
    md = "\n".join([
        "# t", "```sh", "echo one", "```", "",
        "```sh-verify", "echo check", "```",
        "```sh-rollback", "echo undo", "```",
        "```sh-backup", "echo copy", "```",
        "```diff", "+x", "```",
        "````sh whole-file", "cat > f <<'E'", "```", "inner fence", "```", "E", "````",
        "    ```sh", "    indented code is not a fence opener here", "    ```",
        "~~~sh", "echo tilde", "~~~",
        "```console", "$ echo no", "```",
        "```sh", "echo last", "```",
    ])
    assert extract_commands(md) == [
        "echo one\n", "cat > f <<'E'\n```\ninner fence\n```\nE\n", "echo tilde\n",
        "echo last\n"]
    assert extract_commands(md, [VERIFY]) == ["echo check\n"]
    assert extract_commands(md, [BACKUP, ROLLBACK]) == ["echo undo\n", "echo copy\n"]


# --------------------------------------------------------------------------- execution
ME = pwd.getpwuid(os.geteuid()).pw_name
MY_GROUP = grp.getgrgid(os.getegid()).gr_name

SEED = {
    "etc/postfix/main.cf": (
        "# Global Postfix configuration file.\n#myhostname = host.domain.tld\n"
        "inet_interfaces = localhost\nmydestination = $myhostname, localhost\n"
        "smtpd_recipient_restrictions =\n    permit_mynetworks,\n    reject\n", 0o644),
    "etc/postfix/master.cf": (
        "# service type  private unpriv  chroot  wakeup  maxproc command + args\n"
        "smtp      inet  n       -       n       -       -       smtpd\n"
        "#submission inet n       -       n       -       -       smtpd\n"
        "pickup    unix  n       -       n       60      1       pickup\n", 0o644),
    "etc/dovecot/conf.d/10-mail.conf": (
        "##\n## Mailbox locations\n##\n#mail_location =\n\nnamespace inbox {\n"
        "  inbox = yes\n}\n", 0o640),
    "etc/aliases": ("# aliases\npostmaster:\troot\ninfo:\t\tpostmaster\n", 0o644),
    "etc/default/saslauthd.real": ('START=no\nMECHANISMS="pam"\n', 0o644),
}
SYMLINKS = {"etc/default/saslauthd": "saslauthd.real"}


class ExecRecipe(Recipe):
    """File changes of every kind plus probed commands, all under ``base`` (a temp dir)."""

    id = "exec"
    title = "Executable runbook"

    def __init__(self, base: Path) -> None:
        self.base = str(base)

    def p(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def plan(self, ctx: PlanContext) -> List[Change]:
        p = self.p
        tricky = ("# $HOME `id` \\n 'quoted' \"double\"\nMAILWIZARD_EOF\n\tTabbed line\n"
                  "last line\n")
        return [
            FileWrite(p("etc/mw/new.conf"), tricky, mode=0o640, owner=ME, group=MY_GROUP),
            FileWrite(p("etc/mw/nonl.txt"), "no newline at the end", mode=0o600),
            PostfixParams({"myhostname": "mail.example.com", "inet_interfaces": "all",
                           "relay_domains": ""}, path=p("etc/postfix/main.cf")),
            PostfixParams({"smtpd_banner": "$myhostname ESMTP"},
                          path=p("etc/postfix/main.cf")),
            MasterService([confedit.MasterEntry(
                "submission", "inet", "n", "-", "n", "-", "-", "smtpd",
                (("syslog_name", "postfix/submission"), ("smtpd_tls_security_level",
                                                          "encrypt")))],
                path=p("etc/postfix/master.cf")),
            DovecotSettings(p("etc/dovecot/conf.d/10-mail.conf"),
                            {"mail_location": "maildir:~/Maildir"}),
            ShellVars(p("etc/default/saslauthd"), {"START": "yes"}),
            AliasEntries({"info": ["alice", "bob"], "root": ["alice"]}, path=p("etc/aliases")),
            Directory(p("var/mw/spool"), mode=0o750, owner=ME, group=MY_GROUP),
            Command(["touch", p("var/mw/stamp")], creates=p("var/mw/stamp"),
                    undo=["rm", "-f", p("var/mw/stamp")]),
            Command(["sh", "-c", f"echo never >> {p('var/mw/log')}"],
                    unless=["test", "-e", p("var/mw/stamp")]),
            Command(["sh", "-c", f"echo built > {p('etc/mw/built')}"],
                    after_files=[p("etc/mw/new.conf")],
                    undo=["rm", "-f", p("etc/mw/built")]),
            GeneratedFile(p("etc/mw/gen.key"), lambda: "generated\n",
                          preview_text="(generated at apply time)\n", mode=0o600,
                          commands=[f"printf 'generated\\n' > {p('etc/mw/gen.key')}"]),
        ]


def _seed(top: Optional[Path], base: Path) -> None:
    """Write the seed files at ``top`` + ``base`` (no ``top``: at ``base`` on the host)."""
    where = Path(str(top) + str(base)) if top is not None else base
    for rel, (content, mode) in SEED.items():
        f = where / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(content)
        f.chmod(mode)
    for rel, target in SYMLINKS.items():
        (where / rel).symlink_to(target)


def _tree(top: Path) -> Dict[str, Tuple]:
    """rel path -> (type, content or link target, mode, uid, gid); backups left out."""
    out: Dict[str, Tuple] = {}
    for dirpath, dirs, files in os.walk(top):
        for name in dirs + files:
            full = Path(dirpath) / name
            rel = str(full.relative_to(top))
            if BACKUP_SUFFIX in name:
                continue
            st = full.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", "", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            else:
                out[rel] = ("file", full.read_bytes(), stat.S_IMODE(st.st_mode), st.st_uid,
                            st.st_gid)
    return out


def _scripted(root: Path) -> ScriptedExecutor:
    def touch(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        ex.write_atomic(argv[1], b"", 0o644, os.geteuid(), os.getegid())
        return FakeCommand()

    def test_e(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        return FakeCommand(0 if ex.exists(argv[2]) else 1)

    def sh_c(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        m = re.fullmatch(r"echo (\w+) (>>?) (\S+)", argv[2])
        assert m, argv
        old = (ex.read_bytes(m.group(3)) or b"") if m.group(2) == ">>" else b""
        ex.write_atomic(m.group(3), old + m.group(1).encode() + b"\n", 0o644, os.geteuid(),
                        os.getegid())
        return FakeCommand()

    def rm_f(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        ex.remove(argv[2])
        return FakeCommand()

    ex = ScriptedExecutor(root, {"touch": touch, "test -e": test_e, "sh -c": sh_c,
                                 "rm -f": rm_f})
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/passwd").write_text(f"root:x:0:0::/root:/bin/sh\n"
                                     f"{ME}:x:{os.geteuid()}:{os.getegid()}::/tmp:/bin/sh\n")
    (root / "etc/group").write_text(f"root:x:0:\n{MY_GROUP}:x:{os.getegid()}:\n")
    return ex


FAKE_POSTCONF = """\
import re, sys
args = sys.argv[1:]
conf = "/etc/postfix"
if args[:1] == ["-c"]:
    conf, args = args[1], args[2:]
mode, args = args[0], args[1:]
path = conf + "/main.cf"
lines = open(path).read().splitlines(keepends=True)
def logical(name):
    for i, line in enumerate(lines):
        if re.match(re.escape(name) + r"\\s*=", line):
            j = i + 1
            while j < len(lines) and (lines[j][:1] in (" ", "\\t") or not lines[j].strip()
                                      or lines[j].lstrip().startswith("#")):
                j += 1
            while j > i + 1 and not lines[j - 1].strip():
                j -= 1
            return i, j
    return None
for arg in args:
    name = arg.split("=", 1)[0].strip() if mode == "-e" else arg
    hit = logical(name)
    new = [] if mode == "-X" else [name + " = " + arg.split("=", 1)[1].strip() + "\\n"]
    if hit:
        lines[hit[0]:hit[1]] = new
    else:
        lines += new
open(path, "w").write("".join(lines))
"""
"""Postfix's ``postconf -e``/``-X`` on main.cf as Postfix does it (a parameter that is not
set yet goes at the end of the file), for hosts without Postfix."""


def _run(blocks: List[str], cwd: Path) -> None:
    script = "umask 022\nset -e\n" + "\n".join(blocks)
    bin_dir = cwd / "fake-bin"
    if not (bin_dir / "postconf").exists():
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "postconf").write_text(f"#!{sys.executable}\n{FAKE_POSTCONF}")
        (bin_dir / "postconf").chmod(0o755)
    res = subprocess.run(["sh", "-e", "-c", script], cwd=cwd, capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL,
                         env={"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
                              "LC_ALL": "C"})
    assert res.returncode == 0, f"{res.stderr}\n--- script ---\n{script[-3000:]}"


@pytest.mark.skipif(shutil.which("install") is None, reason="needs coreutils")
def test_extracted_commands_do_what_apply_does(tmp_path: Path) -> None:
    base = tmp_path / "target"          # the host path the shell writes to
    apply_root = tmp_path / "applyroot"  # Engine.apply writes to apply_root + base
    ex = _scripted(apply_root)
    _seed(apply_root, base)
    _seed(None, base)
    before = _tree(base)

    platform = get_platform("rocky9")
    engine = Engine(demo_answers(), platform, ex, recipes=[ExecRecipe(base)])
    md = render_markdown(engine)
    plans = engine.plan()
    check_complete(md, plans)

    # by hand: back up, then every apply block in order, as the runbook says
    _run(extract_commands(md, [BACKUP, APPLY]), tmp_path)
    by_hand = _tree(base)

    with Session.open(tmp_path / "state") as session:
        engine = Engine(demo_answers(), platform, ex, session=session,
                        recipes=[ExecRecipe(base)])
        results = engine.apply()
    assert [r.status for r in results] == ["applied"], results
    by_apply = _tree(Path(str(apply_root) + str(base)))
    assert by_hand == by_apply
    assert by_hand["etc/default/saslauthd"] == ("link", "saslauthd.real")
    assert by_hand["etc/dovecot/conf.d/10-mail.conf"][2] == 0o640  # an edit keeps the mode
    assert by_hand["etc/mw/nonl.txt"][1] == b"no newline at the end"
    assert "var/mw/log" not in by_hand  # the unless probe held

    # running the apply blocks again changes nothing (guards and whole-file writes)
    _run(extract_commands(md, [APPLY]), tmp_path)
    assert _tree(base) == by_hand

    # by-hand rollback restores the tree the step found
    _run(extract_commands(md, [ROLLBACK]), tmp_path)
    after_rollback = _tree(base)
    assert not [p for p in after_rollback if p not in before
                and after_rollback[p][0] != "dir"], sorted(set(after_rollback) - set(before))
    assert {k: v for k, v in after_rollback.items() if k in before} == before
    assert not list(base.rglob(f"*{BACKUP_SUFFIX}*"))


def test_cli_writes_the_runbook(tmp_path: Path) -> None:
    from wizard.cli import main

    out = tmp_path / "runbook.md"
    assert main(["docs", "--platform", "debian12", "--answers", "demo", "-o", str(out)]) == 0
    md = out.read_text()
    assert md.startswith("# Mail server runbook: mail.example.com on Debian")
    html = tmp_path / "runbook.html"
    assert main(["docs", "--platform", "rocky9", "--answers", "demo", "--format", "html",
                 "-o", str(html)]) == 0
    assert html.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("platform", ["rocky9", "centos7", "debian12"])
def test_runbook_enables_epel_before_postgrey_on_el(tmp_path: Path, platform: str) -> None:
    """postgrey comes from EPEL on EL: the runbook installs epel-release (and enables CRB
    where EPEL needs it) in its own step before the package step, with its checks."""
    answers = demo_answers().with_changes(steps=(("firewall", True), ("postgrey", True),
                                                 ("virtual-aliases", True)))
    engine = dry_engine(tmp_path, platform, answers)
    md = render_markdown(engine)
    check_complete(md, engine.plan())
    p = get_platform(platform)
    if not p.is_el:
        assert "Step id `epel`" not in md and "epel-release" not in md
        return
    assert md.count("Step id `epel`") == 1
    assert md.index("Step id `epel`") < md.index("Step id `packages`")
    assert "epel-release" in md and "repolist" in md
    if p.major >= 8:
        assert "dnf config-manager --set-enabled crb" in md
        assert "dnf config-manager --set-disabled crb" in md
    else:
        assert "--set-enabled" not in md and "yum install -y epel-release" in md


RELAY_SECRET_TEXT = "Sm4rthost-Secret-42"


def answers_with_relay(tmp_path: Path) -> Answers:
    data = yaml.safe_load(demo_answers_path().read_text())
    data.update(relayhost="[smtp.provider.example]:587", relay_user="mailer@example.com",
                relay_password=RELAY_SECRET_TEXT)
    path = tmp_path / "relay-answers.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_answers(path)


@pytest.mark.parametrize("platform", ["rocky9", "debian13", "almalinux10"])
def test_relay_runbook_shows_the_password_map_with_a_placeholder(tmp_path: Path,
                                                                  platform: str) -> None:
    """Guide 004's relayhost: the runbook writes sasl_passwd with PASSWORD in place of the
    secret (never the secret, in Markdown or HTML), builds the map and keeps both 0600."""
    answers = answers_with_relay(tmp_path)
    engine = dry_engine(tmp_path, platform, answers=answers)
    md = render_markdown(engine)
    check_complete(md, engine.plan())
    for fmt in ("markdown", "html"):
        assert RELAY_SECRET_TEXT not in render_runbook(engine, fmt)
    step = sections(md)[next(t for t in sections(md) if t.endswith("Outbound relay (smarthost)"))]
    assert "install -D -m 0600 -o root -g root /dev/null /etc/postfix/sasl_passwd" in step
    assert "[smtp.provider.example]:587 mailer@example.com:PASSWORD" in step
    db = engine.platform.default_database_type
    assert f"postmap {db}:/etc/postfix/sasl_passwd" in step
    assert "relayhost = [smtp.provider.example]:587" in md
    assert "smtp_tls_security_level = encrypt" in md


def test_the_blocked_port_25_warning_points_to_the_relay_answer(tmp_path: Path) -> None:
    md = render_markdown(dry_engine(tmp_path, "debian12"))
    warning = next(line for line in md.splitlines() if "block outgoing port 25" in line)
    assert "`relayhost`" in warning and "`relay_password`" in warning


def test_dns_section_lists_the_computed_records(tmp_path: Path) -> None:
    """Issue 11: the runbook's DNS section is the same list `mailwizard dns` prints, with the
    answered public address, the RFC 6186 records, the MTA-STS policy file, and the relay's
    SPF; placeholders stay comments."""
    from wizard.answers import Dns

    answers = demo_answers().with_changes(dns=Dns(public_addresses=("198.51.100.7",)),
                                          relayhost="[smtp.provider.example]:587")
    engine = dry_engine(tmp_path, "debian12", answers=answers)
    md = render_markdown(engine)
    dns_md = sections(md)["DNS records to publish"]
    lines = {" ".join(x.split()) for x in dns_md.splitlines()}
    assert "mail.example.com. IN A 198.51.100.7" in lines
    assert "; 7.100.51.198.in-addr.arpa. IN PTR mail.example.com." in lines
    assert '_dmarc.example.com. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.com"' \
        in lines
    assert any(x.startswith('_mta-sts.example.com. IN TXT "v=STSv1; id=') for x in lines)
    assert "_imap._tcp.example.com. IN SRV 0 0 0 ." in lines
    assert 'example.com. IN TXT "v=spf1 mx a:smtp.provider.example ~all"' in lines
    assert "https://mta-sts.example.com/.well-known/mta-sts.txt" in dns_md
    assert "mode: testing" in dns_md
    assert "mailwizard dns --check --answers ANSWERS.yaml" in dns_md
    html = render_runbook(engine, "html")
    assert "v=spf1 mx a:smtp.provider.example ~all" in html
    assert "(#dns-records-to-publish)" in md
