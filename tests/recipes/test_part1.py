"""Recipes 1-6 (preflight ... aliases): plans per platform, apply + rollback on a temp root."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest
from treeutil import snapshot_tree as snapshot

import recipes.preflight as preflight_mod
from recipes import all_recipes
from recipes._dovecot import dovecot_packages
from recipes._postfix import alias_loops, berkeley_maps_to, map_ext
from recipes.aliases import AliasesRecipe
from recipes.dovecot_basics import DovecotBasicsRecipe
from recipes.maildir import MaildirRecipe
from recipes.packages import PackagesRecipe
from recipes.postfix_basics import PostfixBasicsRecipe
from recipes.preflight import PreflightRecipe, parse_ss
from wizard import changes as ch
from wizard import confedit
from wizard.answers import User, demo_answers_path, load_answers
from wizard.engine import Engine, StepPlan
from wizard.executor import DryRunExecutor, Executor, FakeCommand, ScriptedExecutor
from wizard.platforms import STOCK_DIR, Platform, get_platform
from wizard.recipe import Facts, VerifyContext
from wizard.secret import Secret
from wizard.session import Session

ANSWERS = load_answers(demo_answers_path())
PLATFORMS = ["rocky9", "centos7", "almalinux10", "debian12", "debian13", "ubuntu24.04"]
PASSWORD = "Corr3ct-Horse-Battery"


def part1():
    return [PreflightRecipe(), PackagesRecipe(), PostfixBasicsRecipe(), DovecotBasicsRecipe(),
            MaildirRecipe(), AliasesRecipe()]


def dry_plan(tmp_path: Path, pid: str, answers=ANSWERS) -> Dict[str, StepPlan]:
    root = tmp_path / "empty"
    root.mkdir(exist_ok=True)
    engine = Engine(answers, get_platform(pid), DryRunExecutor(root), recipes=part1())
    plans = {p.id: p for p in engine.plan()}
    for p in plans.values():
        assert not p.error, (p.id, p.error)
    return plans


def stock_text(pid: str, path: str) -> Optional[str]:
    p = STOCK_DIR / get_platform(pid).stock / path.lstrip("/")
    return p.read_text() if p.is_file() else None


def edited(pid: str, plan: StepPlan, path: str) -> str:
    """Apply every planned edit of ``path`` in ``plan`` to the platform's stock file."""
    text = stock_text(pid, path)
    for c in plan.changes:
        if isinstance(c, ch.FileChange) and c.path == path:
            text = c.transform(text)
    assert text is not None
    return text


def active_lines(text: str) -> List[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


# --------------------------------------------------------------------------- plans per platform
@pytest.mark.parametrize("pid", PLATFORMS)
def test_every_step_plans_against_stock_files(tmp_path: Path, pid: str) -> None:
    plans = dry_plan(tmp_path, pid)
    assert list(plans) == ["preflight", "packages", "postfix-basics", "dovecot-basics",
                           "maildir", "aliases"]
    assert plans["preflight"].changes == []
    for sid in ("postfix-basics", "dovecot-basics"):
        for pv in plans[sid].previews:
            assert "stock file" in pv.note, (sid, pv.title, pv.note)
    # every recipe documents itself
    for p in plans.values():
        r = p.recipe
        assert r.guide.startswith("Guide 0") and r.summary and r.title
        assert r.manual_checks(ANSWERS, get_platform(pid))


@pytest.mark.parametrize("pid", PLATFORMS)
def test_packages_per_platform(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    changes = dry_plan(tmp_path, pid)["packages"].changes
    pkgs = changes[0]
    assert isinstance(pkgs, ch.Packages)
    assert pkgs.manager == {"centos7": "yum", "debian12": "apt", "debian13": "apt",
                            "ubuntu24.04": "apt"}.get(pid, "dnf")
    assert "postfix" in pkgs.install
    if p.is_debian:
        assert {"dovecot-core", "dovecot-imapd", "dovecot-pop3d"} <= set(pkgs.install)
        assert "dovecot" not in pkgs.install and "sendmail" not in pkgs.remove
        assert "exim4-daemon-light" in pkgs.remove
        assert "postfix postfix/main_mailer_type select Internet Site" in pkgs.debconf
        assert "postfix postfix/mailname string mail.example.com" in pkgs.debconf
    else:
        assert "dovecot" in pkgs.install and pkgs.remove == ["sendmail"]
        assert pkgs.debconf == []
    alt = [c for c in changes if isinstance(c, ch.Command)]
    if p.is_el and p.major >= 8:
        assert len(alt) == 1
        assert alt[0].argv == ["alternatives", "--set", "mta", "/usr/sbin/sendmail.postfix"]
        assert alt[0].unless  # a real probe, not the once-per-session ledger
    else:
        assert alt == []
    # neither cyrus nor postgrey with the demo answers
    assert not set(p.packages_cyrus) & set(pkgs.install)
    assert "postgrey" not in pkgs.install


def test_el_needs_one_dovecot_package_for_every_protocol() -> None:
    answers = ANSWERS.with_changes(pop3=False)
    assert dovecot_packages(get_platform("rocky9"), answers) == ["dovecot"]
    assert dovecot_packages(get_platform("debian12"), answers) == ["dovecot-core",
                                                                   "dovecot-imapd"]


@pytest.mark.parametrize("pid", PLATFORMS)
def test_postfix_basics_main_cf(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    plan = dry_plan(tmp_path, pid)["postfix-basics"]
    assert len(plan.changes) == 1  # one main.cf write per step
    text = edited(pid, plan, "/etc/postfix/main.cf")
    values = confedit.read_main_cf(text)
    assert values["myhostname"] == "mail.example.com"
    assert values["mydomain"] == "example.com"
    assert values["myorigin"] == "$mydomain"
    assert values["mydestination"] == "$myhostname, localhost.$mydomain, localhost, $mydomain"
    assert values["home_mailbox"] == "Maildir/"
    assert values["relay_domains"] == ""
    assert "disable_vrfy_command" not in plan.changes[0].params  # the restrictions step's
    assert "mail_name" not in values["smtpd_banner"] and "Debian" not in values["smtpd_banner"]
    db = "lmdb" if pid == "almalinux10" else "hash"
    assert values["alias_maps"] == f"{db}:/etc/aliases"
    assert values["alias_database"] == f"{db}:/etc/aliases"
    if db == "lmdb":
        assert not [ln for ln in active_lines(text) if re.search(r"\b(hash|btree):", ln)]
    # EL's "inet_interfaces = localhost" is replaced where it stands, not shadowed later
    stock = stock_text(pid, "/etc/postfix/main.cf")
    assert stock is not None
    old = stock.splitlines()
    new = text.splitlines()
    assert [ln for ln in new if ln.startswith("inet_interfaces")] == ["inet_interfaces = all"]
    if p.is_el:
        i_old, i_new = old.index("inet_interfaces = localhost"), new.index("inet_interfaces = all")
        assert (new[i_new - 1], new[i_new + 1]) == (old[i_old - 1], old[i_old + 1])
    # compatibility level: kept when present, added only on Postfix 3 EL without one
    if pid == "centos7":
        assert "compatibility_level" not in values
    else:
        stock_level = confedit.read_main_cf(stock).get("compatibility_level")
        assert values["compatibility_level"] == (stock_level or p.compatibility_level)
    # nothing of the stock file is lost except active lines of the parameters we set
    change = plan.changes[0]
    assert isinstance(change, ch.PostfixParams)
    for line in (ln for ln in old if ln not in new):
        assert line.split("=")[0].strip() in change.params, line


def test_no_conversion_where_berkeley_db_exists() -> None:
    values = {"alias_maps": "hash:/etc/aliases", "x": "btree:/a"}
    assert berkeley_maps_to("hash", values) == {}
    assert berkeley_maps_to("lmdb", values) == {"alias_maps": "lmdb:/etc/aliases",
                                                "x": "lmdb:/a"}


@pytest.mark.parametrize("pid", PLATFORMS)
def test_dovecot_basics(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    plan = dry_plan(tmp_path, pid)["dovecot-basics"]
    paths = [c.path for c in plan.changes if isinstance(c, ch.DovecotSettings)]
    mail = confedit.read_dovecot_conf(edited(pid, plan, "/etc/dovecot/conf.d/10-mail.conf"))
    if pid == "debian13":
        assert mail["mail_driver"] == "maildir" and mail["mail_path"] == "~/Maildir"
        assert "mail_location" not in mail
        assert "mail_inbox_path" not in mail  # stock points INBOX at /var/mail (mbox)
    else:
        assert mail["mail_location"] == "maildir:~/Maildir"
        assert "mail_driver" not in mail
    if p.is_el:
        main = confedit.read_dovecot_conf(edited(pid, plan, "/etc/dovecot/dovecot.conf"))
        assert main["protocols"] == "imap pop3"
    else:
        # Debian/Ubuntu: the dovecot-imapd/pop3d packages bring the protocols
        assert "/etc/dovecot/dovecot.conf" not in paths
    # no obsolete 1.x settings anywhere
    for c in plan.changes:
        assert isinstance(c, ch.DovecotSettings)
        assert not {"login_process_size", "pop3_uidl_format"} & set(c.settings)
        assert "imaps" not in " ".join(v or "" for v in c.settings.values())


@pytest.mark.parametrize("pid", PLATFORMS)
def test_maildir_plan(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    plan = dry_plan(tmp_path, pid)["maildir"]
    dirs = [c for c in plan.changes if isinstance(c, ch.Directory)]
    assert {d.path for d in dirs} >= {
        "/etc/skel/Maildir", "/etc/skel/Maildir/cur", "/etc/skel/Maildir/new",
        "/etc/skel/Maildir/tmp", "/home/alice/Maildir/tmp", "/home/bob/Maildir/new"}
    assert all(d.mode == 0o700 for d in dirs)
    assert {(d.owner, d.group) for d in dirs if "alice" in d.path} == {("alice", "alice")}
    users = [c for c in plan.changes if isinstance(c, ch.UserGroup)]
    assert [u.user for u in users] == ["alice", "bob"] and all(u.set_password for u in users)
    # skeleton before the accounts (useradd -m copies it), accounts before their Maildirs
    kinds = [type(c).__name__ for c in plan.changes]
    assert kinds.index("UserGroup") > kinds.index("Directory")
    assert plan.changes.index(users[-1]) < plan.changes.index(
        next(d for d in dirs if d.path.startswith("/home/")))
    relabel = [c for c in plan.changes if isinstance(c, ch.Command)]
    if p.is_el:  # a dry run assumes SELinux enforcing on EL
        assert relabel and relabel[0].argv[:2] == ["restorecon", "-R"]
        assert relabel[0].after_files
    else:
        assert relabel == []


@pytest.mark.parametrize("pid", PLATFORMS)
def test_aliases_plan(tmp_path: Path, pid: str) -> None:
    plan = dry_plan(tmp_path, pid)["aliases"]
    db = "lmdb" if pid == "almalinux10" else "hash"
    aliases = confedit.read_aliases(edited(pid, plan, "/etc/aliases"))
    assert aliases["root"] == ["alice"]
    assert aliases["info"] == ["alice", "bob"]
    cmds = [c for c in plan.changes if isinstance(c, ch.Command)]
    newaliases = next(c for c in cmds if c.argv == ["newaliases"])
    assert newaliases.creates == f"/etc/aliases{map_ext(db)}"
    assert newaliases.after_files == ["/etc/aliases"]
    # a snapshot of the database comes first: rollback restores or removes it exactly
    snaps = [c for c in plan.changes if isinstance(c, ch.Snapshot)]
    assert newaliases.creates in [c.path for c in snaps]
    assert plan.changes.index(next(c for c in snaps if c.path == newaliases.creates)) < \
        plan.changes.index(newaliases)
    postmap = next(c for c in cmds if c.argv[0] == "postmap")
    assert postmap.argv == ["postmap", f"{db}:/etc/postfix/virtual"]
    assert postmap.creates == f"/etc/postfix/virtual{map_ext(db)}"
    virtual = next(c for c in plan.changes if isinstance(c, ch.FileWrite))
    assert virtual.path == "/etc/postfix/virtual"
    assert "mailwizard" in (virtual.content or "").splitlines()[1]
    assert "sales@example.net" in (virtual.content or "")
    params = next(c for c in plan.changes if isinstance(c, ch.PostfixParams))
    assert params.params == {"virtual_alias_domains": "example.net",
                             "virtual_alias_maps": f"{db}:/etc/postfix/virtual"}
    every = " ".join(" ".join(c.argv) for c in cmds) + str(params.params)
    if db == "lmdb":
        assert "hash:" not in every and "btree:" not in every


def test_passwords_never_in_plans(tmp_path: Path) -> None:
    answers = ANSWERS.with_changes(users=tuple(
        User(u.name, u.create, Secret(PASSWORD)) for u in ANSWERS.users))
    for pid in ("rocky9", "debian13"):
        for plan in dry_plan(tmp_path, pid, answers).values():
            for c, pv in zip(plan.changes, plan.previews):
                blob = " ".join([c.describe(), pv.title, pv.diff, pv.note, *pv.commands,
                                 pv.new_content or ""])
                assert PASSWORD not in blob


# --------------------------------------------------------------------------- helpers
def test_alias_loops() -> None:
    assert alias_loops({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [
        ["a", "b", "c", "a"]]
    assert alias_loops({"alice": ["alice", "bob@example.org"], "root": ["alice"]}) == []
    assert alias_loops({"x": ["|/usr/bin/foo", "/var/log/x", ":include:/etc/list"]}) == []


def test_parse_ss() -> None:
    out = parse_ss(
        "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
        'LISTEN 0 100 0.0.0.0:25 0.0.0.0:* users:(("master",pid=9,fd=13))\n'
        'LISTEN 0 100 [::]:993 [::]:* users:(("dovecot",pid=7,fd=30))\n'
        'LISTEN 0 10 127.0.0.1:587 0.0.0.0:* users:(("exim4",pid=5,fd=3))\n')
    assert out == {25: ["master"], 993: ["dovecot"], 587: ["exim4"]}


# --------------------------------------------------------------------------- preflight verify
def _vctx(root: Path, pid: str, script=None) -> VerifyContext:
    ex = ScriptedExecutor(root, script or {})
    return VerifyContext(ANSWERS, get_platform(pid), Facts(), ex)


def _by_name(results) -> Dict[str, object]:
    return {r.name: r for r in results}


def test_preflight_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight_mod, "dns_reachable", lambda timeout=2.0: False)
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian 12"\n')
    (root / "etc/hostname").write_text("mail.example.com\n")
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\n")
    res = _by_name(PreflightRecipe().verify(_vctx(root, "debian12")))
    assert res["running as root"].ok is None  # not the real root
    assert res["platform supported"].ok is True
    assert res["host name is the mail server's FQDN"].ok is True
    assert res["mail ports free"].ok is None  # no ss in the temp root
    assert res["DNS"].ok is None
    assert "free disk space" in res
    # wrong platform, wrong host name, a user that must exist but does not
    (root / "etc/hostname").write_text("localhost\n")
    answers = ANSWERS.with_changes(users=(User("zoe", create=False),), admin_user="zoe")
    ctx = _vctx(root, "rocky9")
    ctx.answers = answers
    res = _by_name(PreflightRecipe().verify(ctx))
    assert res["platform supported"].ok is False
    assert res["host name is the mail server's FQDN"].ok is False
    assert res["user zoe exists"].ok is False
    assert res["admin user zoe exists"].ok is False


def test_preflight_ports(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    ss = root / "usr/bin/ss"
    ss.write_text("#!/bin/sh\n")
    ss.chmod(0o755)
    out = ('LISTEN 0 100 0.0.0.0:25 0.0.0.0:* users:(("sendmail",pid=9,fd=4))\n'
           'LISTEN 0 100 0.0.0.0:993 0.0.0.0:* users:(("dovecot",pid=7,fd=30))\n')
    ctx = _vctx(root, "rocky9", {"ss -ltnp": FakeCommand(0, out)})
    res = _by_name(PreflightRecipe._ports(ctx.executor))
    assert res["port 25 free or ours"].ok is False and "sendmail" in res[
        "port 25 free or ours"].detail
    assert res["port 993 free or ours"].ok is True
    assert res["port 587 free or ours"].ok is True


# --------------------------------------------------------------------------- apply + rollback
class FakeSystem:
    """Emulates the commands the recipes run, with their effect on the temp root."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.installed: Set[str] = set()
        self.mta_alternative = False
        self.passwords: List[str] = []
        self.ran: List[List[str]] = []

    # helpers ------------------------------------------------------------
    @staticmethod
    def _append(ex: Executor, path: str, line: str) -> None:
        p = ex.path(path)
        p.write_text(p.read_text() + line)

    @staticmethod
    def _drop(ex: Executor, path: str, prefix: str) -> None:
        p = ex.path(path)
        p.write_text("".join(ln for ln in p.read_text().splitlines(keepends=True)
                             if not ln.startswith(prefix)))

    @staticmethod
    def build(ex: Executor, source: str, output: str) -> None:
        """A stand-in for an indexed table: records which source content it was built from."""
        data = ex.path(source).read_bytes()
        ex.path(output).write_text("built from " + hashlib.sha256(data).hexdigest() + "\n")

    # commands -----------------------------------------------------------
    def query(self, argv: List[str], ex: Executor) -> FakeCommand:
        names = [a for a in argv[3:] if not a.startswith("$") and "%" not in a]
        have = [n for n in names if n in self.installed]
        if argv[0] == "dpkg-query":
            return FakeCommand(0 if have else 1, "".join(f"{n} ii \n" for n in have))
        return FakeCommand(0, "".join(f"{n}\n" for n in have))

    def install(self, argv: List[str], ex: Executor) -> FakeCommand:
        self.installed.update(a for a in argv[2:] if not a.startswith("-") and "::" not in a)
        return FakeCommand(0)

    def uninstall(self, argv: List[str], ex: Executor) -> FakeCommand:
        self.installed.difference_update(argv[2:])
        return FakeCommand(0)

    def useradd(self, argv: List[str], ex: Executor) -> FakeCommand:
        name = argv[-1]
        uid = 1000 + len(ex.users())
        self._append(ex, "/etc/passwd", f"{name}:x:{uid}:{uid}::/home/{name}:/bin/bash\n")
        self._append(ex, "/etc/group", f"{name}:x:{uid}:\n")
        home = ex.path(f"/home/{name}")
        shutil.copytree(ex.path("/etc/skel"), home)
        for d, dirs, files in os.walk(home):
            for n in [d, *(os.path.join(d, x) for x in dirs + files)]:
                os.chown(n, uid, uid)
        home.chmod(0o700)
        return FakeCommand(0)

    def userdel(self, argv: List[str], ex: Executor) -> FakeCommand:
        name = argv[-1]
        self._drop(ex, "/etc/passwd", f"{name}:")
        self._drop(ex, "/etc/group", f"{name}:")
        shutil.rmtree(ex.path(f"/home/{name}"))
        return FakeCommand(0)

    def newaliases(self, argv: List[str], ex: Executor) -> FakeCommand:
        db = confedit.read_main_cf(ex.read_text("/etc/postfix/main.cf"))[
            "alias_database"].split(":")[0]
        self.build(ex, "/etc/aliases", "/etc/aliases" + map_ext(db))
        return FakeCommand(0)

    def postmap(self, argv: List[str], ex: Executor) -> FakeCommand:
        db, path = argv[-1].split(":", 1)
        self.build(ex, path, path + map_ext(db))
        return FakeCommand(0)

    def rm(self, argv: List[str], ex: Executor) -> FakeCommand:
        for a in argv[1:]:
            if not a.startswith("-"):
                ex.remove(a)
        return FakeCommand(0)

    def test(self, argv: List[str], ex: Executor) -> FakeCommand:
        if argv[1] == "-e":
            return FakeCommand(0 if ex.exists(argv[2]) else 1)
        return FakeCommand(0 if self.mta_alternative else 1)  # test LINK -ef TARGET

    def alternatives(self, argv: List[str], ex: Executor) -> FakeCommand:
        self.mta_alternative = True
        return FakeCommand(0)

    def chpasswd(self, argv: List[str], ex: Executor) -> FakeCommand:  # pragma: no cover
        return FakeCommand(0)

    def executor(self, root: Path) -> ScriptedExecutor:
        fs = self

        def rec(fn):
            def inner(argv, ex):
                fs.ran.append(list(argv))
                return fn(argv, ex)
            return inner

        script = {
            "dpkg-query": rec(self.query), "rpm -q": rec(self.query),
            "apt-get install": rec(self.install), "dnf install": rec(self.install),
            "yum install": rec(self.install), "apt-get purge": rec(self.uninstall),
            "dnf remove": rec(self.uninstall), "yum remove": rec(self.uninstall),
            "useradd": rec(self.useradd), "userdel": rec(self.userdel),
            "newaliases": rec(self.newaliases), "postmap": rec(self.postmap),
            "rm": rec(self.rm), "test": rec(self.test), "alternatives": rec(self.alternatives),
        }
        return ScriptedExecutor(root, script)


def make_target(tmp_path: Path, pid: str, selinux: bool = False) -> Path:
    root = tmp_path / "root"
    shutil.copytree(STOCK_DIR / get_platform(pid).stock, root)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                     "postfix:x:89:89::/var/spool/postfix:/sbin/nologin\n")
    (root / "etc/group").write_text("root:x:0:\npostfix:x:89:\nmail:x:12:postfix\n")
    for d in ("etc/skel", "home", "var"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/skel/.bashrc").write_text("# bashrc\n")
    if selinux:
        (root / "sys/fs/selinux").mkdir(parents=True)
        (root / "sys/fs/selinux/enforce").write_text("1\n")
    return root


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the emulated accounts")
@pytest.mark.parametrize("pid", ["rocky9", "almalinux10", "debian12", "debian13"])
def test_apply_then_rollback_is_byte_identical(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    root = make_target(tmp_path, pid, selinux=p.is_el)
    answers = ANSWERS.with_changes(users=tuple(
        User(u.name, u.create, Secret(PASSWORD)) for u in ANSWERS.users))
    before = snapshot(root)
    fs = FakeSystem(p)
    ex = fs.executor(root)
    session = Session.open(tmp_path / "state")
    try:
        engine = Engine(answers, p, ex, session=session, recipes=part1())
        results = engine.apply()
        assert [r.status for r in results] == ["applied"] * 6, [
            (r.step, r.error, r.output) for r in results]
        after = snapshot(root)
        assert after != before
        db = "lmdb" if pid == "almalinux10" else "hash"
        ext = map_ext(db)
        assert f"etc/aliases{ext}" in after and f"etc/postfix/virtual{ext}" in after
        other = ".db" if ext == ".lmdb" else ".lmdb"
        assert f"etc/aliases{other}" not in after
        alice = ex.users()["alice"]
        st = (root / "home/alice/Maildir/new").stat()
        assert (st.st_mode & 0o777, st.st_uid) == (0o700, alice[0])
        assert fs.mta_alternative == (p.major >= 8 and p.is_el)
        assert any(c[0] == "restorecon" for c in ex.calls) == p.is_el
        # the password went to chpasswd only, never to the session file
        assert any(c == ["chpasswd"] for c in ex.calls)
        assert PASSWORD not in (tmp_path / "state/session.yaml").read_text()

        # verify what can be checked without the daemons
        checks = engine.verify(["postfix-basics", "maildir", "aliases"])
        for step, res in checks.items():
            bad = [r for r in res if r.ok is False]
            assert not bad, (step, [(r.name, r.detail) for r in bad])
        assert any(r.ok for r in checks["maildir"])

        # second run: everything already done
        again = Engine(answers, p, ex, session=session, recipes=part1()).apply()
        assert [(r.step, r.changed) for r in again] == [(r.step, 0) for r in again]
        assert snapshot(root) == after

        rb = Engine(answers, p, ex, session=session, recipes=part1()).rollback()
        assert rb.errors == [], rb.errors
        assert snapshot(root) == before
        assert fs.installed == set()
    finally:
        session.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the emulated accounts")
@pytest.mark.parametrize("pid", ["rocky9", "almalinux10"])
def test_rollback_rebuilds_an_existing_alias_database(tmp_path: Path, pid: str) -> None:
    """The .db existed before: after rollback it must match the restored /etc/aliases again
    (the rebuild has to run after the file is restored, not before)."""
    p = get_platform(pid)
    root = make_target(tmp_path, pid)
    fs = FakeSystem(p)
    ex = fs.executor(root)
    ext = map_ext(p.default_database_type)
    FakeSystem.build(ex, "/etc/aliases", f"/etc/aliases{ext}")
    original_db = (root / f"etc/aliases{ext}").read_bytes()
    before = snapshot(root)
    session = Session.open(tmp_path / "state")
    try:
        engine = Engine(ANSWERS, p, ex, session=session, recipes=part1())
        assert all(r.status == "applied" for r in engine.apply())
        assert (root / f"etc/aliases{ext}").read_bytes() != original_db  # rebuilt
        rb = engine.rollback()
        assert rb.errors == []
        assert (root / f"etc/aliases{ext}").read_bytes() == original_db
        assert snapshot(root) == before
    finally:
        session.close()


def test_all_recipes_starts_with_part_one() -> None:
    ids = [r.id for r in all_recipes()]
    assert ids[:6] == ["preflight", "packages", "postfix-basics", "dovecot-basics", "maildir",
                       "aliases"]
    assert len(ids) == len(set(ids))
