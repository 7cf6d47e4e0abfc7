"""Every generated config is accepted by the real tools.

For each target platform, the full install is planned with the demo answers exactly as
``mailwizard plan --platform X`` does it (a dry run against an empty root, so every file is
previewed against the platform's stock copy). The planning view then holds the final content
of every file (``Engine.last_view``). Those files are materialized into a directory:
``postfix/`` (main.cf, master.cf) and ``dovecot/`` (the platform's whole stock tree from
``wizard/stock/<key>/etc/dovecot`` overlaid with the planned files). The real tools judge them:

* one lab server (Debian 12: Postfix 3.7, Dovecot 2.3.19, postfix-lmdb) for all platforms:
  ``postconf -c DIR -n`` and ``-M``, ``postfix -c DIR check``, ``postmap``/``postalias``
  on the planned map sources (then looked up), ``doveconf -c DIR/dovecot.conf -n`` for the
  Dovecot 2.3 platforms;
* a Debian 13 chroot (``trixie_tools``: Postfix 3.10, Dovecot 2.4) for debian13, run with
  ``unshare --mount --net --pid``: the same Postfix checks and ``doveconf`` with 2.4 syntax.

The only bytes changed before validation: on EL platforms, the installation-path parameters
(``daemon_directory=/usr/libexec/postfix`` and the like, see :data:`INSTALL_PARAMS`) are
rewritten to the Debian validator's ``postconf -d`` values, because the validator's binaries
live elsewhere. Every other byte is validated as generated. The TLS certificate and key the
configs name are generated with openssl at those absolute paths (the real ones are random
per install anyway). CentOS 7's Dovecot 2.2 syntax (``ssl_protocols``) has no validator here:
skipped with the reason.
"""

from __future__ import annotations

import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import lab
import pytest
from allsteps import real_engine

from wizard.answers import demo_answers_path, load_answers
from wizard.executor import DryRunExecutor
from wizard.platforms import STOCK_DIR, Platform, get_platform

pytestmark = pytest.mark.e2e

PLATFORMS = ("rocky9", "centos7", "almalinux10", "debian12", "debian13", "ubuntu24.04")

# Postfix parameters that name where the *installation* lives (binaries, docs, the set-gid
# group and the owner account): on EL they point at EL paths the Debian validator does not
# have (e.g. daemon_directory=/usr/libexec/postfix -> "postfix check" would fail because
# $daemon_directory/master is missing). Only these are rewritten, and only for EL platforms.
INSTALL_PARAMS = ("daemon_directory", "shlib_directory", "meta_directory", "sample_directory",
                  "readme_directory", "html_directory", "manpage_directory", "sendmail_path",
                  "newaliases_path", "mailq_path", "setgid_group", "mail_owner")

BASE = "/srv/mwcfg"          # where the configs are materialized in the validator
# settings whose effective value (doveconf -h, defaults included) the tests look at
DOVECOT_KEYS = {
    "2.3": ("ssl", "auth_mechanisms", "ssl_min_protocol", "disable_plaintext_auth",
            "mail_location"),
    "2.4": ("ssl", "auth_mechanisms", "ssl_min_protocol", "auth_allow_cleartext",
            "mail_driver", "mail_path"),
}
MAP_RE = re.compile(r"\b(hash|btree|lmdb|cdb|dbm):(/[^\s,]+)")


# ------------------------------------------------------------------------------ the plan
@dataclass
class Planned:
    platform: Platform
    files: Dict[str, bytes]
    """Final content of every file the plan writes (absolute target path)."""

    def text(self, path: str) -> str:
        return self.files[path].decode()


_PLANS: Dict[str, Planned] = {}


def planned(pid: str) -> Planned:
    """``mailwizard plan --answers demo --platform pid``, keeping the final view."""
    if pid not in _PLANS:
        platform = get_platform(pid)
        answers = load_answers(demo_answers_path(), None)
        with tempfile.TemporaryDirectory(prefix="mailwizard-dry-") as root:
            engine = real_engine(answers, platform, DryRunExecutor(Path(root)))
            plans = engine.plan()
            errors = [(sp.id, sp.error) for sp in plans if sp.error]
            assert not errors, errors
            view = engine.last_view
            assert view is not None
            files = {p: d for p, d in view.files.items() if d is not None}
        _PLANS[pid] = Planned(platform, files)
    return _PLANS[pid]


def dovecot_tree(pl: Planned) -> Dict[str, bytes]:
    """Relative path -> bytes: the stock /etc/dovecot tree overlaid with the planned files."""
    stock = STOCK_DIR / pl.platform.stock / "etc/dovecot"
    out = {str(p.relative_to(stock)): p.read_bytes() for p in sorted(stock.rglob("*"))
           if p.is_file()}
    for path, data in pl.files.items():
        if path.startswith("/etc/dovecot/"):
            out[path[len("/etc/dovecot/"):]] = data
    return out


def main_cf_value(text: str, param: str) -> str:
    """The value of ``param`` in a main.cf text (last one wins, continuation lines joined)."""
    value = ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(rf"^{re.escape(param)}\s*=\s*(.*)$", line)
        if m:
            parts = [m.group(1)]
            for cont in lines[i + 1:]:
                if cont[:1] in (" ", "\t") and cont.strip():
                    parts.append(cont.strip())
                else:
                    break
            value = " ".join(p for p in parts if p)
    return value


def rewrite_install_paths(text: str, debian: Dict[str, str]) -> Tuple[str, List[str]]:
    """EL main.cf with only the INSTALL_PARAMS values replaced by the validator's; the list
    says what changed."""
    changed = []
    out = []
    for line in text.splitlines(keepends=True):
        m = re.match(r"^([a-z_]+)(\s*=\s*)(.*?)(\r?\n)?$", line)
        if m and m.group(1) in INSTALL_PARAMS and m.group(3) != debian[m.group(1)]:
            changed.append(f"{m.group(1)}: {m.group(3)} -> {debian[m.group(1)]}")
            line = f"{m.group(1)}{m.group(2)}{debian[m.group(1)]}{m.group(4) or ''}"
        out.append(line)
    return "".join(out), changed


# ------------------------------------------------------------------------------ scripts
def _section(name: str, cmd: str) -> str:
    return (f"( {cmd} ) >/tmp/mw.out 2>/tmp/mw.err; rc=$?\n"
            f"printf '@@@ %s %s\\n' {shlex.quote(name)} \"$rc\"; cat /tmp/mw.out; "
            "echo '@@@ stderr'; cat /tmp/mw.err\n")


def parse_sections(text: str) -> Dict[str, Tuple[int, str, str]]:
    """name -> (rc, stdout, stderr) from a script made of :func:`_section` calls."""
    out: Dict[str, Tuple[int, str, str]] = {}
    parts = re.split(r"^@@@ (.*)$", text, flags=re.M)
    name, rc, so = "", 0, ""
    for i in range(1, len(parts), 2):
        head, body = parts[i], parts[i + 1]
        if head == "stderr":
            out[name] = (rc, so, body.strip("\n"))
        else:
            name, rcs = head.rsplit(" ", 1)
            rc, so = int(rcs), body.strip("\n")
    return out


def cert_pairs(pl: Planned) -> List[Tuple[str, str]]:
    """(certificate, key) paths the planned Postfix and Dovecot configs name."""
    main = pl.text("/etc/postfix/main.cf")
    pairs = [(main_cf_value(main, "smtpd_tls_cert_file"),
              main_cf_value(main, "smtpd_tls_key_file"))]
    ssl = pl.text("/etc/dovecot/conf.d/10-ssl.conf")
    vals = {}
    for line in ssl.splitlines():
        m = re.match(r"^\s*(ssl_cert|ssl_key|ssl_server_cert_file|ssl_server_key_file)\s*=\s*"
                     r"<?\s*(\S+)", line)
        if m:
            vals[m.group(1)] = m.group(2)
    if "ssl_cert" in vals:
        pairs.append((vals["ssl_cert"], vals["ssl_key"]))
    if "ssl_server_cert_file" in vals:
        pairs.append((vals["ssl_server_cert_file"], vals["ssl_server_key_file"]))
    assert all(c and k for c, k in pairs), pairs
    return sorted(set(pairs))


def materialize(pl: Planned, debian_defaults: Dict[str, str], pid: str
                ) -> Tuple[Dict[str, bytes], str, List[str]]:
    """(files to place at absolute paths, validation script, install-path rewrites)."""
    pdir, ddir = f"{BASE}/{pid}/postfix", f"{BASE}/{pid}/dovecot"
    main = pl.text("/etc/postfix/main.cf")
    rewrites: List[str] = []
    if pl.platform.is_el:
        main, rewrites = rewrite_install_paths(main, debian_defaults)
    files: Dict[str, bytes] = {f"{pdir}/main.cf": main.encode(),
                               f"{pdir}/master.cf": pl.files["/etc/postfix/master.cf"]}
    for rel, data in dovecot_tree(pl).items():
        files[f"{ddir}/{rel}"] = data
    script = ["set -u"]
    # the certificate and key the configs name, at those absolute paths
    for crt, key in cert_pairs(pl):
        script.append(
            f"mkdir -p {shlex.quote(str(Path(crt).parent))} {shlex.quote(str(Path(key).parent))}"
            f" && (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 30 "
            f"-subj /CN=mail.example.com -keyout {shlex.quote(key)} "
            f"-out {shlex.quote(crt)} 2>/dev/null) && chmod 644 {shlex.quote(crt)}")
    # the map sources at the absolute paths main.cf names, then built with -c DIR
    text = "\n".join(line for line in (main + pl.text("/etc/postfix/master.cf")).splitlines()
                     if not line.lstrip().startswith("#"))
    alias_db = main_cf_value(main, "alias_database")
    maps = sorted({(t, p) for t, p in MAP_RE.findall(text) if p in pl.files})
    for _t, p in maps:
        files[p] = pl.files[p]
    script.append(_section("postconf-n", f"postconf -c {pdir} -n"))
    script.append(_section("postconf-M", f"postconf -c {pdir} -M"))
    for t, p in maps:
        tool = "postalias" if f"{t}:{p}" in alias_db else "postmap"
        script.append(_section(f"{tool} {t}:{p}", f"{tool} -c {pdir} {t}:{p}"))
    for t, p in maps:
        tool = "postalias" if f"{t}:{p}" in alias_db else "postmap"
        script.append(_section(f"dump {t}:{p}", f"{tool} -c {pdir} -s {t}:{p}"))
    script.append(_section("postfix-check", f"postfix -c {pdir} check"))
    script.append(_section("doveconf-n", f"doveconf -c {ddir}/dovecot.conf -n"))
    keys = DOVECOT_KEYS.get(pl.platform.dovecot_syntax, ())
    script.append(_section("doveconf-h", f"for k in {' '.join(keys)}; do printf '%s = %s\\n' "
                                         f"$k \"$(doveconf -c {ddir}/dovecot.conf -h $k)\"; done"))
    return files, "\n".join(script) + "\n", rewrites


# ------------------------------------------------------------------------------ runners
Runner = Callable[[Dict[str, bytes], str], str]


@dataclass
class Validator:
    name: str
    run: Runner
    defaults: Dict[str, str]
    versions: str


def _defaults(output: str) -> Dict[str, str]:
    out = {}
    for line in output.splitlines():
        k, _, v = line.partition(" = ")
        out[k.strip()] = v.strip()
    return out


@pytest.fixture(scope="module")
def bookworm(lab_image: lab.Image):
    """One lab server with the validators installed from the offline repo."""
    srv = lab.Server(lab_image)
    try:
        srv.boot()
        srv.attach_debs()
        lab.track_module_server(srv)
        srv.run("echo 'postfix postfix/main_mailer_type select No configuration' "
                "| debconf-set-selections && apt-get update -q && "
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix postfix-lmdb "
                "dovecot-core dovecot-imapd dovecot-pop3d openssl", timeout=600)

        def run(files: Dict[str, bytes], script: str) -> str:
            for path, data in files.items():
                p = srv.path(path)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(data)
            r = srv.run(script, check=False, timeout=300)
            return r.stdout + r.stderr

        d = srv.run("postconf -d " + " ".join(INSTALL_PARAMS)).stdout
        v = srv.run("postconf -d -h mail_version; dovecot --version").stdout.split()
        yield Validator("Debian 12 (lab server)", run, _defaults(d), " / ".join(v[:2]))
    finally:
        srv.halt()


@pytest.fixture(scope="module")
def trixie(lab_image: lab.Image):
    """Debian 13's postconf/doveconf in a throw-away chroot (see trixie_tools)."""
    import trixie_tools

    try:
        rootfs = trixie_tools.ensure_tools()
    except lab.LabError as exc:
        pytest.skip(f"no Debian 13 validator chroot (Debian archive unreachable?): {exc}")

    def run(files: Dict[str, bytes], script: str) -> str:
        return trixie_tools.run_in(rootfs, files, script, timeout=300).stdout

    out = run({}, "postconf -d " + " ".join(INSTALL_PARAMS))
    ver = run({}, "postconf -d -h mail_version; dovecot --version").split()
    yield Validator("Debian 13 (chroot)", run, _defaults(out), " / ".join(ver[:2]))


# ------------------------------------------------------------------------------ checks
def _clean(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def check_postfix(v: Validator, pid: str) -> Dict[str, Tuple[int, str, str]]:
    pl = planned(pid)
    files, script, rewrites = materialize(pl, v.defaults, pid)
    res = parse_sections(v.run(files, script))
    print(f"{pid} on {v.name} ({v.versions}); install paths rewritten: {rewrites or 'none'}")
    problems = []
    for name in ("postconf-n", "postconf-M", "postfix-check"):
        rc, _out, err = res[name]
        if rc != 0 or _clean(err):
            problems.append(f"{name}: rc={rc}\n{err}")
    for name, (rc, out, err) in res.items():
        if name.startswith(("postmap", "postalias")) and (rc != 0 or _clean(err)):
            problems.append(f"{name}: rc={rc}\n{err}")
        if name.startswith("dump ") and (rc != 0 or not out.strip()):
            problems.append(f"{name}: rc={rc} (empty map?)\n{err}")
    assert not problems, "\n\n".join(problems)
    # our parameters are really in effect (postconf -n is what Postfix will use)
    effective = _defaults(res["postconf-n"][1])
    main = pl.text("/etc/postfix/main.cf")
    for param in ("myhostname", "mydestination", "mynetworks", "smtpd_tls_cert_file",
                  "smtpd_sasl_type", "smtpd_relay_restrictions", "virtual_alias_maps"):
        want = main_cf_value(main, param)
        if want:
            assert effective.get(param) == want, (param, effective.get(param), want)
    # the maps hold the planned entries
    dumps = "\n".join(out for n, (_rc, out, _e) in res.items() if n.startswith("dump "))
    assert re.search(r"^sales@example\.net\s+bob$", dumps, re.M), dumps
    assert re.search(r"^spammer@example\.org\s+REJECT$", dumps, re.M), dumps
    assert re.search(r"^root:\s+alice$", dumps, re.M), dumps
    return res


def check_dovecot(v: Validator, pid: str) -> str:
    pl = planned(pid)
    files, script, _ = materialize(pl, v.defaults, pid)
    res = parse_sections(v.run(files, script))
    rc, out, err = res["doveconf-n"]
    assert rc == 0 and not _clean(err), f"doveconf rc={rc}\n{err}\n{out[-3000:]}"
    print(f"{pid} doveconf on {v.name} ({v.versions}): OK")
    rc, out, err = res["doveconf-h"]        # effective values, defaults included
    assert rc == 0 and not _clean(err), err
    return out


def _dovecot_values(out: str) -> Dict[str, str]:
    return {k: val.strip() for k, val in (line.split(" = ", 1) for line in out.splitlines()
                                          if " = " in line)}


# ------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("pid", PLATFORMS)
def test_postfix_config_accepted_by_postfix_3_7(bookworm: Validator, pid: str):
    check_postfix(bookworm, pid)


def test_debian13_postfix_config_accepted_by_postfix_3_10(trixie: Validator):
    check_postfix(trixie, "debian13")


@pytest.mark.parametrize("pid", [p for p in PLATFORMS if get_platform(p).dovecot_syntax == "2.3"])
def test_dovecot_config_accepted_by_doveconf_2_3(bookworm: Validator, pid: str):
    values = _dovecot_values(check_dovecot(bookworm, pid))
    assert values.get("ssl") == "required", values
    assert values.get("auth_mechanisms") == "plain login", values
    assert values.get("ssl_min_protocol") == "TLSv1.2", values
    assert values.get("mail_location") == "maildir:~/Maildir", values
    assert values.get("disable_plaintext_auth") == "yes", values


def test_debian13_dovecot_config_accepted_by_doveconf_2_4(trixie: Validator):
    values = _dovecot_values(check_dovecot(trixie, "debian13"))
    assert values.get("ssl") == "required", values
    assert values.get("auth_allow_cleartext") == "no", values
    assert values.get("ssl_min_protocol") == "TLSv1.2", values
    assert values.get("mail_driver") == "maildir", values
    assert values.get("mail_path") == "~/Maildir", values


def test_centos7_dovecot_config_not_validated():
    assert get_platform("centos7").dovecot_syntax == "2.2"
    pytest.skip("centos7: Dovecot 2.2 syntax (ssl_protocols, no ssl_min_protocol); no 2.2 "
                "doveconf is available here (Debian's archive has none since stretch left "
                "deb.debian.org), and 2.3/2.4 reject 2.2-only settings by design")


def test_the_validators_do_reject_a_broken_config(bookworm: Validator):
    """The checks above are not vacuous: an unknown Postfix parameter and an unknown Dovecot
    setting in otherwise planned files make them fail."""
    good = planned("debian12")
    bad = Planned(good.platform, dict(good.files))
    bad.files["/etc/postfix/main.cf"] += b"smtpd_mailwizard_bogus = yes\n"
    bad.files["/etc/dovecot/conf.d/10-ssl.conf"] += b"ssl_mailwizard_bogus = yes\n"
    _PLANS["debian12-broken"] = bad
    try:
        with pytest.raises(AssertionError, match="unused parameter: smtpd_mailwizard_bogus"):
            check_postfix(bookworm, "debian12-broken")
        with pytest.raises(AssertionError, match="ssl_mailwizard_bogus"):
            check_dovecot(bookworm, "debian12-broken")
    finally:
        del _PLANS["debian12-broken"]
