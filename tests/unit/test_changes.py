"""Every Change type applies and undoes on a temporary root, byte and mode exact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_target import dpkg_query

from wizard import changes as ch
from wizard.confedit import MasterEntry
from wizard.errors import ExecutorError, ValidationFailed
from wizard.executor import Executor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.secret import Secret

PLATFORM = get_platform("rocky9")


def ctx_for(ex, tmp_path: Path, key: str = "1") -> ch.ChangeContext:
    return ch.ChangeContext(ex, PLATFORM, ch.BackupStore(tmp_path / "backups"), key=key)


def run(change: ch.Change, ctx: ch.ChangeContext):
    rec = change.prepare(ctx)
    if rec is not None:
        change.commit(ctx, rec)
    return rec


def write(root: Path, rel: str, data: bytes, mode: int = 0o644) -> Path:
    p = root / rel.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    os.chmod(p, mode)
    return p


@pytest.mark.parametrize("change, path, original", [
    (ch.PostfixParams({"myhostname": "mail.example.com", "inet_interfaces": "all"}),
     "/etc/postfix/main.cf", b"#myhostname = x\ninet_interfaces = localhost\n# end\n"),
    (ch.MasterService([MasterEntry("submission", "inet", chroot="n")]),
     "/etc/postfix/master.cf", b"smtp inet n - n - - smtpd\n"),
    (ch.DovecotSettings("/etc/dovecot/conf.d/10-ssl.conf", {"ssl": "required"}),
     "/etc/dovecot/conf.d/10-ssl.conf", b"ssl = yes\nssl_cert = </x\n"),
    (ch.ShellVars("/etc/default/saslauthd", {"START": "yes"}),
     "/etc/default/saslauthd", b"MECHANISMS=\"pam\"\n"),
    (ch.AliasEntries({"root": ["alice"]}), "/etc/aliases", b"postmaster: root\n"),
    (ch.FileWrite("/etc/postfix/virtual", "a@b c\n", mode=0o640),
     "/etc/postfix/virtual", b"old\n"),
])
def test_file_changes_apply_and_undo_exactly(change, path, original, target_root, tmp_path,
                                             tree):
    write(target_root, path, original, 0o604)
    before = tree(target_root)
    ex = Executor(target_root, host_commands=True)
    ctx = ctx_for(ex, tmp_path)
    rec = run(change, ctx)
    assert rec is not None and rec["existed"] is True
    assert (target_root / path.lstrip("/")).read_bytes() != original
    assert change.prepare(ctx) is None  # satisfied now: "unchanged"
    change.undo(ctx, rec)
    assert tree(target_root) == before


def test_file_created_is_removed_with_its_new_directories(target_root, tmp_path, tree):
    before = tree(target_root)
    ex = Executor(target_root, host_commands=True)
    ctx = ctx_for(ex, tmp_path)
    change = ch.FileWrite("/etc/new/deeper/file.conf", "x = 1\n", mode=0o600)
    rec = run(change, ctx)
    p = target_root / "etc/new/deeper/file.conf"
    assert p.read_text() == "x = 1\n" and (p.stat().st_mode & 0o777) == 0o600
    assert rec["created_dirs"] == ["/etc/new", "/etc/new/deeper"]
    change.undo(ctx, rec)
    assert tree(target_root) == before


def test_mode_only_change_is_undone(target_root, tmp_path, tree):
    write(target_root, "/etc/key.pem", b"KEY\n", 0o644)
    before = tree(target_root)
    ex = Executor(target_root, host_commands=True)
    ctx = ctx_for(ex, tmp_path)
    change = ch.FileWrite("/etc/key.pem", "KEY\n", mode=0o600)
    rec = run(change, ctx)
    assert ((target_root / "etc/key.pem").stat().st_mode & 0o777) == 0o600
    change.undo(ctx, rec)
    assert tree(target_root) == before


def test_undo_refuses_over_admin_edit_unless_forced(target_root, tmp_path):
    p = write(target_root, "/etc/postfix/virtual", b"orig\n")
    ex = Executor(target_root, host_commands=True)
    ctx = ctx_for(ex, tmp_path)
    change = ch.FileWrite("/etc/postfix/virtual", "ours\n")
    rec = run(change, ctx)
    p.write_text("admin edited\n")
    with pytest.raises(ExecutorError, match="modified after mailwizard wrote it"):
        ch.FileWrite.undo_record(ctx, rec)
    assert p.read_text() == "admin edited\n"
    warnings = ch.FileWrite.undo_record(ctx, rec, force=True)
    assert p.read_text() == "orig\n" and warnings


def test_structured_undo_keeps_later_edits(target_root, tmp_path):
    p = write(target_root, "/etc/postfix/main.cf", b"a = 1\n")
    ex = Executor(target_root, host_commands=True)
    first = ch.PostfixParams({"a": "2"})
    rec1 = run(first, ctx_for(ex, tmp_path, "1"))
    rec2 = run(ch.PostfixParams({"b": "3"}), ctx_for(ex, tmp_path, "2"))
    assert p.read_text() == "a = 2\nb = 3\n"
    warnings = ch.PostfixParams.undo_record(ctx_for(ex, tmp_path), rec1)
    assert p.read_text() == "a = 1\nb = 3\n" and warnings
    ch.PostfixParams.undo_record(ctx_for(ex, tmp_path), rec2)
    assert p.read_text() == "a = 1\n"


def test_validator_rejects_before_any_write(target_root, tmp_path):
    p = write(target_root, "/etc/x.conf", b"good\n")
    ex = Executor(target_root, host_commands=True)
    change = ch.FileWrite("/etc/x.conf", "bad\n", validate=lambda e, path, data: "nope")
    with pytest.raises(ValidationFailed, match="nope"):
        change.prepare(ctx_for(ex, tmp_path))
    assert p.read_bytes() == b"good\n"


def test_generated_file_is_made_once(target_root, tmp_path):
    ex = Executor(target_root, host_commands=True)
    calls = []

    def gen() -> str:
        calls.append(1)
        return f"secret {len(calls)}\n"

    change = ch.GeneratedFile("/etc/k.pem", gen, "(a new key)", mode=0o600)
    rec = run(change, ctx_for(ex, tmp_path))
    assert (target_root / "etc/k.pem").read_text() == "secret 1\n"
    again = ch.GeneratedFile("/etc/k.pem", gen, "(a new key)", mode=0o600)
    assert again.prepare(ctx_for(ex, tmp_path)) is None
    change.undo(ctx_for(ex, tmp_path), rec)
    assert not (target_root / "etc/k.pem").exists()


def test_directory_apply_undo(target_root, tmp_path, tree):
    before = tree(target_root)
    ex = Executor(target_root, host_commands=True)
    ctx = ctx_for(ex, tmp_path)
    change = ch.Directory("/home/alice/Maildir/new", 0o700, owner="root")
    rec = run(change, ctx)
    assert ((target_root / "home/alice/Maildir/new").stat().st_mode & 0o777) == 0o700
    assert change.prepare(ctx) is None
    change.undo(ctx, rec)
    assert tree(target_root) == before


def test_directory_existing_mode_restored(target_root, tmp_path, tree):
    (target_root / "srv").mkdir(mode=0o755)
    os.chmod(target_root / "srv", 0o755)
    before = tree(target_root)
    ex = Executor(target_root, host_commands=True)
    ctx = ctx_for(ex, tmp_path)
    rec = run(ch.Directory("/srv", 0o700), ctx)
    assert ((target_root / "srv").stat().st_mode & 0o777) == 0o700
    ch.Directory.undo_record(ctx, rec)
    assert tree(target_root) == before


def test_command_runs_probes_and_undo(target_root, tmp_path):
    ex = Executor(target_root, host_commands=True)
    ctx = ctx_for(ex, tmp_path)
    marker = target_root / "made"
    change = ch.Command(["sh", "-c", 'echo hi > "$MW_ROOT/made"'],
                        undo=["sh", "-c", 'rm "$MW_ROOT/made"'], creates="/made")
    rec = run(change, ctx)
    assert marker.read_text() == "hi\n"
    assert change.prepare(ctx) is None  # creates= is satisfied
    ch.Command.undo_record(ctx, rec)
    assert not marker.exists()
    probe = ch.Command(["false"], unless=["true"])
    assert probe.prepare(ctx) is None
    failing = ch.Command(["sh", "-c", "echo boom >&2; exit 3"])
    rec = failing.prepare(ctx)
    with pytest.raises(Exception, match="boom"):
        failing.commit(ctx, rec)


def test_command_after_files_and_ledger(target_root, tmp_path):
    ex = ScriptedExecutor(target_root)
    ctx = ctx_for(ex, tmp_path)
    pm = ch.Command(["postmap", "hash:/etc/postfix/virtual"], after_files=["/etc/postfix/virtual"],
                    creates="/etc/postfix/virtual.db")
    assert pm.prepare(ctx) is not None  # the .db is missing
    write(target_root, "/etc/postfix/virtual.db", b"db")
    assert pm.prepare(ctx) is None
    ctx.changed_paths.add("/etc/postfix/virtual")
    assert pm.prepare(ctx) is not None  # source changed in this apply
    once = ch.Command(["newaliases"])
    assert once.prepare(ctx) is not None
    ctx.done_commands.add(("newaliases",))
    assert once.prepare(ctx) is None


def test_packages_installs_only_missing_and_undo_removes_only_ours(target_root, tmp_path):
    installed = {"postfix"}

    def install(argv, ex):
        installed.update(a for a in argv if not a.startswith("-") and a not in (
            "apt-get", "install", "Dpkg::Options::=--force-confdef",
            "Dpkg::Options::=--force-confold"))
        return FakeCommand(0)

    ex = ScriptedExecutor(target_root, {"dpkg-query": dpkg_query(installed),
                                        "apt-get install": install})
    ctx = ctx_for(ex, tmp_path)
    change = ch.Packages("apt", install=["postfix", "dovecot-core"], remove=["exim4"],
                         debconf=["postfix postfix/main_mailer_type select Internet Site"])
    rec = change.prepare(ctx)
    assert rec == {"to_install": ["dovecot-core"], "to_remove": [], "manager": "apt"}
    change.commit(ctx, rec)
    assert ["debconf-set-selections"] in ex.calls
    assert "dovecot-core" in installed
    assert change.prepare(ctx) is None
    ch.Packages.undo_record(ctx, rec)
    assert ex.calls[-1] == ["apt-get", "purge", "-y", "-q", "--auto-remove", "dovecot-core"]


def test_service_start_and_undo_stop(target_root, tmp_path):
    state = {"running": False}

    def status(argv, ex):
        return FakeCommand(0 if state["running"] else 1)

    def start(argv, ex):
        state["running"] = True
        return FakeCommand(0)

    def stop(argv, ex):
        state["running"] = False
        return FakeCommand(0)

    ex = ScriptedExecutor(target_root, {"postfix status": status, "postfix start": start,
                                        "postfix stop": stop})
    ctx = ctx_for(ex, tmp_path)
    svc = ch.Service("postfix", action="reload")
    rec = svc.prepare(ctx)
    assert rec["manager"] == "direct"
    svc.commit(ctx, rec)
    assert state["running"]
    ch.Service.undo_record(ctx, rec)
    assert not state["running"]


def test_user_and_group_changes(target_root, tmp_path):
    def useradd(argv, ex):
        with open(ex.path("/etc/passwd"), "a") as fh:
            fh.write(f"{argv[-1]}:x:1500:1500::/home/{argv[-1]}:/bin/bash\n")
        return FakeCommand(0)

    ex = ScriptedExecutor(target_root, {"useradd": useradd})
    ctx = ctx_for(ex, tmp_path)
    ctx.secrets["carol"] = Secret("S3cret-pass")
    change = ch.UserGroup(user="carol", set_password=True)
    rec = run(change, ctx)
    assert ["useradd", "-m", "-s", "/bin/bash", "carol"] in ex.calls
    assert "S3cret-pass" not in repr(rec)
    assert change.prepare(ctx) is None
    ch.UserGroup.undo_record(ctx, rec)
    assert ex.calls[-1] == ["userdel", "-r", "carol"]
    member = ch.UserGroup(user="alice", member_of="mail")
    rec = member.prepare(ctx)
    assert rec is not None and rec["form"] == "member"
    assert ch.UserGroup(user="postfix", member_of="mail").prepare(ctx) is None


def test_a_password_never_becomes_a_second_chpasswd_line(target_root, tmp_path):
    """Second line of defence behind the answers' validation: a line break in a password
    that reached the change is refused and chpasswd never runs."""
    def useradd(argv, ex):  # type: ignore[no-untyped-def]
        with open(ex.path("/etc/passwd"), "a") as fh:
            fh.write(f"{argv[-1]}:x:1500:1500::/home/{argv[-1]}:/bin/bash\n")
        return FakeCommand(0)

    ex = ScriptedExecutor(target_root, {"useradd": useradd, "chpasswd": FakeCommand(0)})
    ctx = ctx_for(ex, tmp_path)
    ctx.secrets["carol"] = Secret("Correct-horse1\nroot:attacker-chosen")
    change = ch.UserGroup(user="carol", set_password=True)
    rec = change.prepare(ctx)
    assert rec is not None
    with pytest.raises(ExecutorError, match="one chpasswd line"):
        change.commit(ctx, rec)
    assert not [c for c in ex.calls if c[0] == "chpasswd"]


def test_a_promised_password_is_never_skipped_silently(target_root, tmp_path):
    """A change that says it sets the password fails loudly when the password is not in the
    run's answers (a resumed session keeps no secrets) instead of leaving the account
    without one while the plan said otherwise."""
    def useradd(argv, ex):  # type: ignore[no-untyped-def]
        with open(ex.path("/etc/passwd"), "a") as fh:
            fh.write(f"{argv[-1]}:x:1500:1500::/home/{argv[-1]}:/sbin/nologin\n")
        return FakeCommand(0)

    ex = ScriptedExecutor(target_root, {"useradd": useradd, "chpasswd": FakeCommand(0)})
    ctx = ctx_for(ex, tmp_path)
    change = ch.UserGroup(user="carol", shell="/sbin/nologin", set_password=True)
    rec = change.prepare(ctx)
    assert rec is not None
    with pytest.raises(ExecutorError, match="passwd carol"):
        change.commit(ctx, rec)
    assert ["useradd", "-m", "-s", "/sbin/nologin", "carol"] in ex.calls
    assert not [c for c in ex.calls if c[0] == "chpasswd"]
    quiet = ch.UserGroup(user="dave", shell="/sbin/nologin")
    assert not any(c.startswith("passwd") for c in quiet.preview(
        ch.View(ex, get_platform("rocky9"))).commands)


def test_preview_against_stock_file(tmp_path):
    from wizard.executor import DryRunExecutor

    view = ch.View(DryRunExecutor(tmp_path), get_platform("rocky9"))
    stock = ch.stock_file(get_platform("rocky9"), "/etc/postfix/main.cf")
    if stock is None:
        pytest.skip("stock files not present")
    pv = ch.PostfixParams({"inet_interfaces": "all"}).preview(view)
    assert "stock file" in pv.note
    assert "-inet_interfaces = localhost" in pv.diff and "+inet_interfaces = all" in pv.diff


def test_package_undo_removes_what_the_install_left_in_etc(target_root, tmp_path, tree):
    installed: set = set()
    (target_root / "etc/keep").write_text("mine\n")
    before = tree(target_root)

    def install(argv, ex):
        installed.add("postfix")
        (ex.path("/etc/postfix")).mkdir()
        (ex.path("/etc/postfix/main.cf")).write_text("package file\n")
        (ex.path("/etc/aliases")).write_text("postmaster: root\n")  # made by postinst
        (ex.path("/etc/mailname")).write_text("mail.example.com\n")
        return FakeCommand(0)

    def purge(argv, ex):
        installed.discard("postfix")
        (ex.path("/etc/postfix/main.cf")).unlink()  # dpkg removes what it owns
        return FakeCommand(0)

    ex = ScriptedExecutor(target_root, {"dpkg-query -W": dpkg_query(installed),
                                        "apt-get install": install, "apt-get purge": purge,
                                        "dpkg-query -S": FakeCommand(1, "")})
    ctx = ctx_for(ex, tmp_path)
    change = ch.Packages("apt", install=["postfix"])
    rec = run(change, ctx)
    assert set(rec["etc_created"]) == {"/etc/postfix", "/etc/postfix/main.cf", "/etc/aliases",
                                       "/etc/mailname"}
    (target_root / "etc/mailname").write_text("edited by the admin\n")
    warnings = ch.Packages.undo_record(ctx, rec)
    assert any("/etc/mailname" in w for w in warnings)
    after = tree(target_root)
    assert after.pop("etc/mailname")[-1] == b"edited by the admin\n"  # changed: kept
    assert after == before


def test_userdel_restores_the_account_backup_copies(target_root, tmp_path, tree):
    (target_root / "etc/passwd-").write_text("old backup\n")
    before = tree(target_root)
    original = (target_root / "etc/passwd").read_text()

    def useradd(argv, ex):
        p = ex.path("/etc/passwd")
        ex.path("/etc/passwd-").write_text(p.read_text())  # like shadow-utils does
        ex.path("/etc/subuid-").write_text("")
        p.write_text(p.read_text() + "carol:x:1500:1500::/home/carol:/bin/bash\n")
        return FakeCommand(0)

    def userdel(argv, ex):
        p = ex.path("/etc/passwd")
        ex.path("/etc/passwd-").write_text(p.read_text())
        p.write_text(original)
        return FakeCommand(0)

    ex = ScriptedExecutor(target_root, {"useradd": useradd, "userdel": userdel})
    ctx = ctx_for(ex, tmp_path)
    rec = run(ch.UserGroup(user="carol"), ctx)
    assert "carol" in (target_root / "etc/passwd").read_text()
    assert "accounts_before" in rec and "backup" in rec["accounts_before"]["/etc/passwd"]
    ch.UserGroup.undo_record(ctx, rec)
    assert tree(target_root) == before


def test_package_undo_stops_the_services_the_packages_ship_before_the_purge(
        target_root, tmp_path):
    """Debian 13's postfix prerm does not stop postfix.service: after the purge the master
    kept running from a unit file that no longer existed (tests/e2e/test_trixie_systemd.py).
    Under systemd the undo stops the active services of the packages it removes first."""
    (target_root / "run/systemd/system").mkdir(parents=True)
    ex = ScriptedExecutor(target_root, {
        "dpkg-query -L": FakeCommand(0, "/usr/lib/systemd/system/postfix.service\n"
                                        "/usr/lib/systemd/system/postfix@.service\n"
                                        "/lib/systemd/system/saslauthd.service\n"
                                        "/usr/sbin/postfix\n"),
        "systemctl is-active --quiet postfix.service": FakeCommand(0),
        "systemctl is-active --quiet saslauthd.service": FakeCommand(3),
        "dpkg-query -W": FakeCommand(0, "postfix ii \nsasl2-bin ii \n"),
        "dpkg-query -S": FakeCommand(1, "")})
    rec = {"to_install": ["postfix", "sasl2-bin"], "to_remove": [], "manager": "apt"}
    assert ch.Packages.undo_record(ctx_for(ex, tmp_path), rec) == []
    stop = ex.calls.index(["systemctl", "stop", "postfix.service"])
    purge = ex.calls.index(["apt-get", "purge", "-y", "-q", "--auto-remove", "postfix",
                            "sasl2-bin"])
    assert stop < purge
    assert not any(c[:2] == ["systemctl", "stop"] and "saslauthd.service" in c
                   for c in ex.calls)


def test_a_restored_main_cf_is_written_cool_and_byte_exact(target_root: Path,
                                                           tmp_path: Path) -> None:
    """Rollback restores main.cf with an mtime a few seconds back (as apply writes it), so
    the postfix command after it does not pause; other restored files keep 'now'."""
    import time
    main = write(target_root, "etc/postfix/main.cf", b"inet_interfaces = all\n")
    other = write(target_root, "etc/mw.conf", b"old\n")
    ex = Executor(target_root, host_commands=True)
    rec_main = run(ch.PostfixParams({"myhostname": "mail.example.com"}),
                   ctx_for(ex, tmp_path, "1"))
    rec_other = run(ch.FileWrite("/etc/mw.conf", "new\n"), ctx_for(ex, tmp_path, "2"))
    ch.FileWrite.undo_record(ctx_for(ex, tmp_path), rec_other)
    ch.PostfixParams.undo_record(ctx_for(ex, tmp_path), rec_main)
    now = time.time()
    assert main.read_bytes() == b"inet_interfaces = all\n"
    assert main.stat().st_mtime <= now - 4
    assert other.read_bytes() == b"old\n" and other.stat().st_mtime > now - 4
