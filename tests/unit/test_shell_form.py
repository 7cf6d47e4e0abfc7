"""Each change type's shell form (``Change.shell_form``): guard, do, undo and check lines,
every value shell-quoted, and the in-place edits doing exactly what apply writes.

Hostile values (spaces, quotes, ``$``) are used on purpose: the runbook is copied by hand, so
a value must never become shell syntax. The edit tests run the form's lines with the host's
``sh`` and GNU ``sed`` on files under pytest's ``tmp_path`` (read through a dry-run executor
rooted at ``/``, which never writes)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Tuple

import pytest

from wizard import changes as ch
from wizard.confedit import MasterEntry
from wizard.executor import DryRunExecutor
from wizard.platforms import get_platform

NASTY = "it's $HOME `id`"
GNU_SED = shutil.which("sed") is not None and "GNU" in subprocess.run(
    ["sed", "--version"], capture_output=True, text=True).stdout


def form_of(change: ch.Change, root: Path, platform: str = "rocky9", stock: bool = False
            ) -> Tuple[ch.Preview, ch.ShellForm]:
    view = ch.View(DryRunExecutor(root), get_platform(platform), use_stock=stock)
    pv = change.preview(view)
    return pv, change.shell_form(pv)


def sh(script: str, cwd: Path) -> int:
    return subprocess.run(["sh", "-e", "-c", script], cwd=cwd, timeout=30).returncode


def words(line: str) -> list:
    """The words a shell sees in one command line (fails on unbalanced quoting)."""
    return shlex.split(line.replace("\\\n", ""), comments=True)


def test_shell_form_is_frozen_and_empty_by_default(tmp_path: Path) -> None:
    form = ch.ShellForm()
    with pytest.raises(AttributeError):
        form.do = ("x",)  # type: ignore[misc]
    assert (form.do, form.guard, form.undo, form.check) == ((), "", (), ())
    _, note = form_of(ch.Note("nothing to do", "because"), tmp_path)
    assert note == ch.ShellForm()


def test_command_guard_do_undo_check_quoted(tmp_path: Path) -> None:
    made = f"/var/lib/{NASTY}.db"
    cmd = ch.Command(["postmap", f"hash:/etc/postfix/{NASTY}"], creates=made,
                     undo=["rm", "-f", made], after_files=["/etc/postfix/x"])
    _, form = form_of(cmd, tmp_path)
    assert words(form.do[0]) == ["postmap", f"hash:/etc/postfix/{NASTY}"]
    assert words(form.guard) == ["[", "-e", made, "]"]
    assert form.guard_why == f"only when {made} does not exist yet"
    assert [words(u) for u in form.undo] == [["rm", "-f", made]]
    assert [words(c) for c in form.check] == [["ls", "-l", made]]
    assert form.runs_after == ("/etc/postfix/x",)

    probed = ch.Command(["touch", "/x"], unless=["test", "-e", NASTY])
    _, form = form_of(probed, tmp_path)
    assert form.guard == f"test -e {shlex.quote(NASTY)} >/dev/null 2>&1"
    assert form.undo == () and form.check == ()


def test_command_input_is_a_here_document_that_cannot_end_early(tmp_path: Path) -> None:
    cmd = ch.Command(["chpasswd"], input="alice:x\nMAILWIZARD_INPUT\n")
    _, form = form_of(cmd, tmp_path)
    (do,) = form.do
    assert do.startswith("chpasswd <<'MAILWIZARD_INPUT_'\n")
    assert do.endswith("\nMAILWIZARD_INPUT_")
    out = subprocess.run(["sh", "-c", do.replace("chpasswd", "cat", 1)], capture_output=True,
                         text=True, timeout=30).stdout
    assert out == "alice:x\nMAILWIZARD_INPUT\n"


def test_postfix_params_are_postconf_lines(tmp_path: Path) -> None:
    main_cf = tmp_path / "etc/postfix/main.cf"
    main_cf.parent.mkdir(parents=True)
    main_cf.write_text("#myhostname = x\ninet_interfaces = localhost\n")
    change = ch.PostfixParams({"myhostname": "mail.example.com", "smtpd_banner": NASTY,
                               "relay_domains": ""}, remove=["old_param"], path=str(main_cf))
    _, form = form_of(change, Path("/"))
    assert form.in_place and not form.whole_file and form.guard == ""
    postconf, remove = form.do
    assert words(postconf) == ["postconf", "-c", str(main_cf.parent), "-e",
                               "myhostname = mail.example.com", f"smtpd_banner = {NASTY}",
                               "relay_domains = "]
    assert words(remove) == ["postconf", "-c", str(main_cf.parent), "-X", "old_param"]
    assert [words(c) for c in form.check] == [
        ["postconf", "myhostname", "smtpd_banner", "relay_domains"], ["postfix", "check"]]
    assert form.restore == str(main_cf)


def test_postfix_params_at_the_default_path_need_no_config_dir(tmp_path: Path) -> None:
    change = ch.PostfixParams({"home_mailbox": "Maildir/"})
    pv, form = form_of(change, tmp_path, "debian12", stock=True)  # against the stock main.cf
    assert pv.changed
    assert form.do == ("postconf -e 'home_mailbox = Maildir/'",)


@pytest.mark.skipif(not GNU_SED, reason="needs GNU sed")
@pytest.mark.parametrize("name,before,make", [
    ("10-mail.conf", "##\n#mail_location =\nnamespace inbox {\n  inbox = yes\n}\n",
     lambda p: ch.DovecotSettings(p, {"mail_location": "maildir:~/Maildir",
                                      "mail_privileged_group": "mail"})),
    ("saslauthd", 'START=no\nMECHANISMS="pam"\n',
     lambda p: ch.ShellVars(p, {"START": "yes", "OPTIONS": NASTY})),
    ("aliases", "# aliases\npostmaster:\troot\ninfo:\t\tpostmaster\n",
     lambda p: ch.AliasEntries({"info": ["alice", "bob"], "root": ["alice"]}, path=p)),
    ("master.cf", "smtp      inet  n       -       n       -       -       smtpd\n"
                  "#submission inet n       -       n       -       -       smtpd\n"
                  "#  -o syslog_name=postfix/submission\n"
                  "pickup    unix  n       -       n       60      1       pickup\n",
     lambda p: ch.MasterService([MasterEntry(
         "submission", "inet", "n", "-", "n", "-", "-", "smtpd",
         (("syslog_name", "postfix/submission"), ("smtpd_client_restrictions",
                                                  "permit_sasl_authenticated,reject")))],
         path=p)),
])
def test_structured_edits_in_place_give_what_apply_writes(tmp_path: Path, name: str,
                                                          before: str, make) -> None:
    target = tmp_path / f"conf {name}"  # a space in the path: quoting is needed
    target.write_text(before)
    target.chmod(0o640)
    change = make(str(target))
    pv, form = form_of(change, Path("/"))
    assert pv.changed and form.in_place and not form.whole_file
    assert form.restore == str(target)
    assert form.guard and form.check
    assert sh(form.guard, tmp_path) != 0  # not made yet
    for line in form.do:
        assert shlex.quote(str(target)) in line
    script = "\n".join(form.do)
    assert sh(script, tmp_path) == 0
    assert target.read_text() == change.transform(before)
    assert target.stat().st_mode & 0o777 == 0o640  # an edit keeps the mode
    assert sh(form.guard, tmp_path) == 0  # made: the runbook skips it from now on


def test_a_whole_file_write_when_sed_cannot_say_it(tmp_path: Path) -> None:
    target = tmp_path / "x.conf"
    target.write_text("a = 1")  # no final newline
    _, form = form_of(ch.DovecotSettings(str(target), {"a": "2"}), Path("/"))
    assert form.whole_file and not form.in_place
    assert form.do[0].startswith("cat > ")


def test_file_write_new_and_existing(tmp_path: Path) -> None:
    new = ch.FileWrite(f"/etc/{NASTY}/new.conf", "x\n", mode=0o600, owner="postfix")
    pv, form = form_of(new, tmp_path)
    assert form.why.startswith("A new file, mode 0600, owned by postfix:root.")
    assert form.do == tuple(pv.commands) and form.restore == f"/etc/{NASTY}/new.conf"
    assert [words(c) for c in form.check] == [["ls", "-l", f"/etc/{NASTY}/new.conf"]]
    (tmp_path / "etc").mkdir(exist_ok=True)
    (tmp_path / "etc/old.conf").write_text("old\n")
    pv, form = form_of(ch.FileWrite("/etc/old.conf", "new\n"), tmp_path)
    assert form.whole_file and pv.diff
    pv, form = form_of(ch.FileWrite("/etc/old.conf", None), tmp_path)
    assert form.why == "The file is removed:" and form.do == ("rm -f /etc/old.conf",)


def test_generated_file_is_guarded_and_owned(tmp_path: Path) -> None:
    path = f"/etc/ssl/{NASTY}.key"
    gen = ch.GeneratedFile(path, lambda: "k\n", preview_text="(a key)\n", mode=0o600,
                           owner="root", group="ssl cert",
                           commands=[f"openssl genpkey -out {shlex.quote(path)}"])
    _, form = form_of(gen, tmp_path)
    assert form.show == "(a key)\n" and "mode 0600" in form.show_why
    assert words(form.guard) == ["[", "-e", path, "]"]
    assert [words(c) for c in form.do[1:]] == [["chmod", "0600", path],
                                               ["chown", "root:ssl cert", path]]
    bare = ch.GeneratedFile("/etc/x.pem", lambda: "c\n", preview_text="(a cert)\n")
    _, form = form_of(bare, tmp_path)
    assert form.do == () and "no shell equivalent" in form.why and form.show


def test_directory_undo_only_for_what_it_creates(tmp_path: Path) -> None:
    d = ch.Directory(f"/var/{NASTY}", mode=0o750, owner="vmail")
    _, form = form_of(d, tmp_path)
    assert form.batch == "directories"
    assert [words(c) for c in form.check] == [["ls", "-ld", f"/var/{NASTY}"]]
    assert words(form.undo[0])[:2] == ["rmdir", f"/var/{NASTY}"]
    (tmp_path / "var").mkdir()
    _, form = form_of(ch.Directory("/var", mode=0o755), tmp_path)
    assert form.undo == ()


@pytest.mark.parametrize("manager", ["apt", "dnf"])
def test_packages_forms(tmp_path: Path, manager: str) -> None:
    pk = ch.Packages(manager, install=["postfix", "dovecot-core"], remove=["exim4"])
    _, form = form_of(pk, tmp_path)
    # first the note of which packages are missing: the undo removes those only
    assert form.do[0] == "mkdir -p /var/lib/mailwizard/runbook"
    assert form.do[1].startswith("for p in postfix dovecot-core; do ")
    assert form.undo[0].startswith("added=$(cat /var/lib/mailwizard/runbook/installed-packages-")
    do = form.do[2:]
    if manager == "apt":
        assert do[0] == "apt-get update -q"
        assert do[1].startswith("DEBIAN_FRONTEND=noninteractive apt-get install")
        assert do[1].endswith(" --no-upgrade")
        assert any("dpkg-query -W" in line and "exim4" in line for line in do)
        assert form.undo[1] == ('[ -z "$added" ] || DEBIAN_FRONTEND=noninteractive apt-get '
                                'purge -y -q $added')
        assert form.check == ("dpkg-query -W postfix dovecot-core",)
    else:
        assert words(do[0]) == ["dnf", "install", "-y", "postfix", "dovecot-core"]
        assert form.undo[1] == '[ -z "$added" ] || dnf remove -y $added'
        assert form.check == ("rpm -q postfix dovecot-core",)
    assert form.undo[-1].startswith("# ")  # reinstalling what was removed is left to the admin


def test_user_group_forms(tmp_path: Path) -> None:
    _, user = form_of(ch.UserGroup(user="al ice", set_password=True), tmp_path)
    assert user.guard == "id -u 'al ice' >/dev/null 2>&1"
    assert [words(c) for c in user.do] == [["useradd", "-m", "-s", "/bin/bash", "al ice"]]
    assert user.ask == ("passwd 'al ice'",) and "never prints it" in user.ask_why
    assert [words(u) for u in user.undo] == [["userdel", "-r", "al ice"]]
    assert user.check == ("id 'al ice'",)
    _, member = form_of(ch.UserGroup(user="al ice", member_of="mail users"), tmp_path)
    assert member.guard == "id -nG 'al ice' | tr ' ' '\\n' | grep -qx 'mail users'"
    assert [words(u) for u in member.undo] == [["gpasswd", "-d", "al ice", "mail users"]]
    _, group = form_of(ch.UserGroup(group="mail users"), tmp_path)
    assert group.guard == "getent group 'mail users' >/dev/null"
    assert [words(u) for u in group.undo] == [["groupdel", "mail users"]]


def test_service_form(tmp_path: Path) -> None:
    _, form = form_of(ch.Service("postfix", action="reload",
                                 direct={"start": [["postfix", "start"]]}), tmp_path)
    assert form.do == ("systemctl enable postfix", "systemctl reload-or-restart postfix")
    assert form.undo == ("systemctl disable --now postfix   # if it was not running before "
                         "this step",)
    assert "systemctl reload-or-restart postfix" in form.undo_last[0]
    assert form.check == ("systemctl is-enabled postfix", "systemctl is-active postfix")
    assert form.notes == ("Without systemd, mailwizard runs `service postfix start` where the "
                          "init script /etc/init.d/postfix exists, else (a container with no "
                          "init system) `postfix start`.",)
    _, start = form_of(ch.Service("dovecot"), tmp_path)
    assert start.undo_last == ()
