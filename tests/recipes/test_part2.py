"""Steps 7-13 (restrictions ... firewall): plans per platform, certificates, apply + rollback."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from treeutil import snapshot_tree as snapshot

from recipes.certificate import (
    CertificateRecipe,
    cert_paths,
    key_pem,
    make_certificate,
    new_key,
    pem,
    validate_import,
)
from recipes.firewall import FirewallRecipe
from recipes.restrictions import RestrictionsRecipe
from recipes.sasl import SaslRecipe
from recipes.services import ServicesRecipe
from recipes.tls_dovecot import TlsDovecotRecipe
from recipes.tls_postfix import TlsPostfixRecipe
from wizard import changes as ch
from wizard import confedit
from wizard.answers import Answers, demo_answers_path, load_answers
from wizard.engine import Engine
from wizard.errors import RecipeError
from wizard.executor import DryRunExecutor, FakeCommand, ScriptedExecutor
from wizard.platforms import Platform, get_platform
from wizard.recipe import Facts, PlanContext, Recipe, VerifyContext, gather_facts
from wizard.session import Session

DEMO = load_answers(demo_answers_path())
PLATFORMS = ["rocky9", "centos7", "almalinux10", "debian12", "debian13", "ubuntu24.04"]
STOCK = Path(__file__).resolve().parents[2] / "wizard" / "stock"


def my_recipes() -> List[Recipe]:
    return [RestrictionsRecipe(), CertificateRecipe(), SaslRecipe(), TlsPostfixRecipe(),
            TlsDovecotRecipe(), ServicesRecipe(), FirewallRecipe()]


def with_(answers: Answers, **kw: object) -> Answers:
    return replace(answers, **kw)  # type: ignore[arg-type]


class Planned:
    """Every change and preview of the steps, and the view of the files afterwards."""

    def __init__(self, root: Path, platform: Platform, answers: Answers = DEMO,
                 facts: Optional[Facts] = None) -> None:
        ex = DryRunExecutor(root)
        self.platform = platform
        self.facts = facts or gather_facts(ex, platform, dry_run=True)
        self.view = ch.View(ex, platform)
        self.changes: Dict[str, List[ch.Change]] = {}
        self.previews: Dict[str, List[ch.Preview]] = {}
        for r in my_recipes():
            if not r.enabled(answers):
                continue
            cs = r.plan(PlanContext(answers, platform, self.facts, self.view))
            self.changes[r.id] = cs
            self.previews[r.id] = [c.preview(self.view) for c in cs]

    def text(self, path: str) -> str:
        return self.view.read_text(path) or ""

    def main_cf(self) -> Dict[str, str]:
        return confedit.read_main_cf(self.text("/etc/postfix/main.cf"))

    def all(self) -> List[ch.Change]:
        return [c for cs in self.changes.values() for c in cs]


@pytest.fixture
def empty_root(tmp_path: Path) -> Path:
    root = tmp_path / "empty"
    root.mkdir()
    return root


# --------------------------------------------------------------------------- plans per platform
@pytest.mark.parametrize("pid", PLATFORMS)
def test_demo_plan_per_platform(pid: str, empty_root: Path) -> None:
    p = get_platform(pid)
    plan = Planned(empty_root, p)
    values = plan.main_cf()
    # never an open relay
    assert "reject_unauth_destination" in values["smtpd_recipient_restrictions"]
    if p.has_relay_restrictions:
        assert values["smtpd_relay_restrictions"] == (
            "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination")
    # maps and caches use a database type the platform has
    active = "\n".join(f"{k} = {v}" for k, v in values.items())
    if pid == "almalinux10":
        assert "hash:" not in active and "btree:" not in active
        assert "lmdb:/etc/postfix/sender_access" in values["smtpd_sender_restrictions"]
        assert values["smtpd_tls_session_cache_database"].startswith("lmdb:")
        postmap = [c for c in plan.changes["restrictions"] if isinstance(c, ch.Command)][0]
        assert postmap.argv == ["postmap", "lmdb:/etc/postfix/sender_access"]
        assert postmap.creates == "/etc/postfix/sender_access.lmdb"
    else:
        assert values["smtpd_tls_session_cache_database"].startswith("btree:")
    # TLS protocol syntax per Postfix version
    if p.postfix_version >= (3, 6):
        assert values["smtpd_tls_mandatory_protocols"] == ">=TLSv1.2"
    else:
        assert ">=" not in active
        assert values["smtpd_tls_protocols"] == "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"
    cert, key = cert_paths(DEMO, p)
    assert values["smtpd_tls_cert_file"] == cert and values["smtpd_tls_key_file"] == key
    assert "snakeoil" not in active and "postfix.pem" not in active
    assert values["smtpd_tls_security_level"] == "may"
    assert values["smtpd_sasl_auth_enable"] == "no"
    # submission: explicit chroot column, TLS and AUTH
    sub = confedit.read_master_cf(plan.text("/etc/postfix/master.cf"))[("submission", "inet")]
    assert sub.split()[4] == ("y" if p.is_debian else "n")
    assert "smtpd_tls_security_level=encrypt" in sub and "smtpd_sasl_auth_enable=yes" in sub
    # Dovecot dialect
    ssl_conf = confedit.read_dovecot_conf(plan.text("/etc/dovecot/conf.d/10-ssl.conf"))
    auth_conf = confedit.read_dovecot_conf(plan.text("/etc/dovecot/conf.d/10-auth.conf"))
    assert ssl_conf["ssl"] == "required"
    if pid == "debian13":
        assert ssl_conf["ssl_server_cert_file"] == cert
        assert ssl_conf["ssl_server_key_file"] == key
        assert "ssl_cert" not in ssl_conf and auth_conf["auth_allow_cleartext"] == "no"
        assert "<" not in plan.text("/etc/dovecot/conf.d/10-ssl.conf").split(
            "ssl_server_cert_file = ")[1].splitlines()[0]
    else:
        assert ssl_conf["ssl_cert"] == f"<{cert}" and ssl_conf["ssl_key"] == f"<{key}"
        assert auth_conf["disable_plaintext_auth"] == "yes"
        assert "/etc/pki/dovecot" not in ssl_conf["ssl_cert"]
    if p.dovecot_syntax == "2.2":
        assert "ssl_min_protocol" not in ssl_conf
        assert ssl_conf["ssl_protocols"] == "!SSLv2 !SSLv3 !TLSv1 !TLSv1.1"
    else:
        assert ssl_conf["ssl_min_protocol"] == "TLSv1.2"
    assert auth_conf["auth_mechanisms"] == "plain login"
    assert "unix_listener /var/spool/postfix/private/auth" in plan.text(
        "/etc/dovecot/conf.d/99-mailwizard-auth.conf")
    # the dovecot.conf of every platform includes conf.d/*.conf (so the drop-in is read)
    assert "!include conf.d/*.conf" in plan.text("/etc/dovecot/dovecot.conf")
    # certificate: key 0600, generated (not previewed as key material)
    keyc = [c for c in plan.changes["certificate"] if getattr(c, "path", "") == key][0]
    assert isinstance(keyc, ch.GeneratedFile) and keyc.mode == 0o600
    for previews in plan.previews.values():
        for pv in previews:
            assert "PRIVATE KEY" not in pv.diff + (pv.new_content or "") + "".join(pv.commands)
    # restorecon only on EL with SELinux
    cmds = [c.argv for c in plan.all() if isinstance(c, ch.Command)]
    assert (["restorecon", "-Rv", "/etc/pki"] in cmds) == p.is_el
    # firewall: what runs there
    fw = plan.changes["firewall"]
    if p.firewall == "firewalld":
        assert ["firewall-cmd", "--permanent", "--add-service=smtp-submission"] in cmds
        assert ["firewall-cmd", "--reload"] == cmds[-1]
    elif p.firewall == "ufw":
        assert ["ufw", "allow", "587/tcp"] in cmds and ["ufw", "allow", "143/tcp"] not in cmds
    else:
        assert [type(c).__name__ for c in fw] == ["Note"]
        assert not any(pv.changed for pv in plan.previews["firewall"])
    # services: validation first, before any service change
    kinds = [type(c).__name__ for c in plan.changes["services"]]
    assert kinds[:2] == ["Validate", "Validate"]
    assert kinds[2:] == ["ConfiguredService"] * 2


@pytest.mark.parametrize("pid", PLATFORMS)
@pytest.mark.parametrize("postgrey", [False, True])
@pytest.mark.parametrize("rbl", [(), ("zen.spamhaus.org", "bl.spamcop.net")])
@pytest.mark.parametrize("access", [(), (("x@example.org", "OK"),)])
def test_never_an_open_relay(pid: str, postgrey: bool, rbl: Tuple[str, ...],
                             access: Tuple[Tuple[str, str], ...], empty_root: Path) -> None:
    a = with_(DEMO, restrictions=replace(DEMO.restrictions, rbl=rbl, sender_access=access),
              steps=(("firewall", True), ("postgrey", postgrey), ("virtual-aliases", True)))
    values = Planned(empty_root, get_platform(pid), a).main_cf()
    rules = values["smtpd_recipient_restrictions"].split(", ")
    assert "reject_unauth_destination" in rules
    # nothing before it may permit strangers
    assert rules[:rules.index("reject_unauth_destination")] == [
        "permit_mynetworks", "permit_sasl_authenticated"]
    if postgrey:
        policy = rules[-1]
        if get_platform(pid).is_debian:
            assert policy == "check_policy_service inet:127.0.0.1:10023"
        else:
            assert policy == "check_policy_service unix:postgrey/socket"
    assert [r for r in rules if r.startswith("reject_rbl_client")] == [
        f"reject_rbl_client {x}" for x in rbl]
    assert ("check_sender_access" in values["smtpd_sender_restrictions"]) == bool(access)


def test_relay_rules_in_recipient_list_without_relay_restrictions(empty_root: Path) -> None:
    old = replace(get_platform("centos7"), postfix_version=(2, 6, 6))
    assert not old.has_relay_restrictions
    plan = Planned(empty_root, old)
    values = plan.main_cf()
    assert "smtpd_relay_restrictions" not in values
    assert "reject_unauth_destination" in values["smtpd_recipient_restrictions"]
    sub = confedit.read_master_cf(plan.text("/etc/postfix/master.cf"))[("submission", "inet")]
    assert "smtpd_relay_restrictions" not in sub
    # centos7 really has 2.10: relay restrictions there
    assert "smtpd_relay_restrictions" in Planned(empty_root, get_platform("centos7")).main_cf()


def test_message_size_limit_raises_a_smaller_mailbox_limit(empty_root: Path) -> None:
    big = with_(DEMO, restrictions=replace(DEMO.restrictions, message_size_limit=80_000_000))
    assert Planned(empty_root, get_platform("rocky9"), big).main_cf()[
        "mailbox_size_limit"] == "80000000"
    # Debian's mailbox_size_limit = 0 (unlimited) stays
    assert Planned(empty_root, get_platform("debian12"), big).main_cf()[
        "mailbox_size_limit"] == "0"


def test_strict_helo_only_when_asked(empty_root: Path) -> None:
    p = get_platform("debian12")
    assert "reject_unknown_helo_hostname" not in Planned(empty_root, p).main_cf()[
        "smtpd_helo_restrictions"]
    strict = with_(DEMO, restrictions=replace(DEMO.restrictions, reject_unknown_helo=True))
    assert Planned(empty_root, p, strict).main_cf()["smtpd_helo_restrictions"].endswith(
        "reject_unknown_helo_hostname")


@pytest.mark.parametrize("pid", ["debian12", "debian13", "ubuntu24.04", "rocky9"])
def test_cyrus_backend(pid: str, empty_root: Path) -> None:
    p = get_platform(pid)
    a = with_(DEMO, sasl=replace(DEMO.sasl, backend="cyrus"))
    plan = Planned(empty_root, p, a)
    values = plan.main_cf()
    assert values["smtpd_sasl_type"] == "cyrus" and values["smtpd_sasl_path"] == "smtpd"
    assert values["cyrus_sasl_config_path"] == os.path.dirname(p.cyrus_smtpd_conf)
    assert "pwcheck_method: saslauthd" in plan.text(p.cyrus_smtpd_conf)
    conf = confedit.read_shell_vars(plan.text(p.saslauthd_conf))
    sasl = plan.changes["sasl"]
    cmds = [c for c in sasl if isinstance(c, ch.Command)]
    if p.is_debian:
        assert conf["START"] == "yes" and conf["MECHANISMS"] == "pam"
        assert conf["OPTIONS"] == "-c -m /var/spool/postfix/var/run/saslauthd"
        st = cmds[0]
        assert st.argv[:2] == ["dpkg-statoverride", "--add"] and st.argv[-1].endswith(
            "/var/run/saslauthd")
        assert st.unless == ["dpkg-statoverride", "--list", st.argv[-1]]
        assert st.undo_argv == ["dpkg-statoverride", "--remove", st.argv[-1]]
        assert any(isinstance(c, ch.UserGroup) and (c.user, c.member_of) == ("postfix", "sasl")
                   for c in sasl)
        dropins = [c for c in sasl if getattr(c, "path", "").startswith("/etc/systemd")]
        assert bool(dropins) == (pid == "debian13")
        if dropins:
            assert "-m /var/spool/postfix/var/run/saslauthd" in plan.text(dropins[0].path)
    else:
        assert conf["MECH"] == "pam" and not cmds
    assert not any("99-mailwizard-auth" in getattr(c, "path", "") for c in sasl)
    assert "ConfiguredService" in [type(c).__name__ for c in plan.changes["services"]]


@pytest.mark.parametrize("backend,service", [("dovecot", "dovecot"), ("cyrus", "smtp")])
@pytest.mark.parametrize("pid", ["rocky9", "debian12"])
def test_pam_group_adds_every_user_first(backend: str, service: str, pid: str,
                                         empty_root: Path) -> None:
    a = with_(DEMO, sasl=replace(DEMO.sasl, backend=backend, pam_group="mailusers"))
    plan = Planned(empty_root, get_platform(pid), a)
    sasl = plan.changes["sasl"]
    accounts = [c for c in sasl if isinstance(c, ch.UserGroup)]
    group_idx = [i for i, c in enumerate(sasl) if isinstance(c, ch.UserGroup)
                 and c.group == "mailusers"][0]
    members = {c.user for c in accounts if c.member_of == "mailusers"}
    assert members == {"alice", "bob"}
    pam_idx = [i for i, c in enumerate(sasl) if getattr(c, "path", "") ==
               f"/etc/pam.d/{service}"][0]
    member_idx = [i for i, c in enumerate(sasl) if isinstance(c, ch.UserGroup)
                  and c.member_of == "mailusers"]
    assert group_idx < min(member_idx) and max(member_idx) < pam_idx
    pam = plan.text(f"/etc/pam.d/{service}")
    lines = [x for x in pam.splitlines() if x and not x.startswith("#")]
    assert lines[0].split()[:3] == ["auth", "required", "pam_succeed_if.so"]
    assert lines[0].endswith("user ingroup mailusers")


def test_pam_edit_is_idempotent_and_keeps_the_file() -> None:
    from recipes._part2 import pam_with_group

    p = get_platform("debian12")
    orig = "#%PAM-1.0\n\n@include common-auth\n@include common-account\n"
    once = pam_with_group(orig, p, "dovecot", "g1")
    assert pam_with_group(once, p, "dovecot", "g1") == once
    other = pam_with_group(once, p, "dovecot", "g2")
    assert "ingroup g1" not in other and other.count("pam_succeed_if") == 1
    assert once.replace(once.splitlines(True)[2] + once.splitlines(True)[3], "") == orig


# --------------------------------------------------------------------------- certificates
def _handshake(cert_pem: bytes, key_pem_: bytes, cafile: Path, hostname: str,
               tmp: Path) -> None:
    """A real TLS handshake in memory: server with cert+key, client trusting only cafile."""
    (tmp / "srv.crt").write_bytes(cert_pem)
    (tmp / "srv.key").write_bytes(key_pem_)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(tmp / "srv.crt"), str(tmp / "srv.key"))
    client = ssl.create_default_context(cafile=str(cafile))
    client.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    cobj = client.wrap_bio(c_in, c_out, server_hostname=hostname)
    sobj = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, obj in (("c", cobj), ("s", sobj)):
            if done[name]:
                continue
            try:
                obj.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("key_type", ["rsa2048", "ecdsa-p256", "ecdsa-p384"])
def test_self_signed_certificate_is_its_own_ca(key_type: str, tmp_path: Path) -> None:
    a = with_(DEMO, certificate=replace(DEMO.certificate, key_type=key_type,
                                        extra_names=("smtp.example.com", "192.0.2.10")))
    key = new_key(key_type)
    cert = make_certificate(key, a)
    cert_pem = pem(cert).encode()
    (tmp_path / "ca.crt").write_bytes(cert_pem)
    _handshake(cert_pem, key_pem(key).encode(), tmp_path / "ca.crt", "mail.example.com",
               tmp_path)
    _handshake(cert_pem, key_pem(key).encode(), tmp_path / "ca.crt", "smtp.example.com",
               tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(cert_pem, key_pem(key).encode(), tmp_path / "ca.crt", "other.example.com",
                   tmp_path)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName)[0] == "mail.example.com"
    assert [str(x) for x in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.10"]
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name in ("sha256", "sha384")
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert days == DEMO.certificate.days  # 825 days + 5 minutes of clock skew margin
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "mail.example.com"
    assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == \
        "Example Ltd"
    # the check the verify step uses agrees
    from wizard.checks import certificate_valid
    assert all(r.ok for r in certificate_valid(cert_pem, key_pem(key).encode(),
                                               "mail.example.com"))


def _pair(tmp: Path, hostname: str = "mail.example.com", days: int = 30,
          now: Optional[dt.datetime] = None) -> Tuple[bytes, bytes]:
    a = with_(DEMO, hostname=hostname, certificate=replace(DEMO.certificate, days=days,
                                                           key_type="ecdsa-p256"))
    key = new_key("ecdsa-p256")
    return pem(make_certificate(key, a, now=now)).encode(), key_pem(key).encode()


def test_import_validation_messages(tmp_path: Path) -> None:
    cert, key = _pair(tmp_path)
    assert validate_import(cert, key, "mail.example.com", "/c", "/k") is not None
    _, other_key = _pair(tmp_path)
    with pytest.raises(RecipeError, match="does not belong to the certificate"):
        validate_import(cert, other_key, "mail.example.com", "/c", "/k")
    old_cert, old_key = _pair(tmp_path, days=10,
                              now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40))
    with pytest.raises(RecipeError, match=r"expired on \d{4}-\d\d-\d\d"):
        validate_import(old_cert, old_key, "mail.example.com", "/c", "/k")
    with pytest.raises(RecipeError, match="does not name mx.example.com"):
        validate_import(cert, key, "mx.example.com", "/c", "/k")
    encrypted = serialization.load_pem_private_key(key, None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"))
    with pytest.raises(RecipeError, match="passphrase"):
        validate_import(cert, encrypted, "mail.example.com", "/c", "/k")
    with pytest.raises(RecipeError, match="no readable PEM certificate"):
        validate_import(b"junk", key, "mail.example.com", "/c", "/k")


def test_import_mode_plan_copies_without_showing_the_key(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "root").mkdir(parents=True)
    cert, key = _pair(tmp_path)
    (root / "root/mail.crt").write_bytes(cert)
    (root / "root/mail.key").write_bytes(key)
    p = get_platform("debian12")
    a = with_(DEMO, certificate=replace(DEMO.certificate, mode="import",
                                        cert_file="/root/mail.crt", key_file="/root/mail.key"))
    plan = Planned(root, p, a)
    c_path, k_path = cert_paths(a, p)
    kc = [c for c in plan.changes["certificate"] if getattr(c, "path", "") == k_path][0]
    assert isinstance(kc, ch.PrivateKeyFile) and kc.mode == 0o600
    assert plan.text(c_path).encode() == cert
    for pv in plan.previews["certificate"]:
        assert "PRIVATE KEY" not in pv.diff + (pv.new_content or "") + "".join(pv.commands)
    # refusals surface as plan errors with the message
    (root / "root/mail.key").write_bytes(_pair(tmp_path)[1])
    with pytest.raises(RecipeError, match="does not belong"):
        Planned(root, p, a)
    (root / "root/mail.key").unlink()
    with pytest.raises(RecipeError, match="cannot read the private key /root/mail.key"):
        Planned(root, p, a)


def test_existing_key_without_certificate_gets_a_matching_certificate(tmp_path: Path) -> None:
    root = tmp_path / "root"
    p = get_platform("debian12")
    c_path, k_path = cert_paths(DEMO, p)
    existing = new_key("ecdsa-p256")
    (root / k_path.lstrip("/")).parent.mkdir(parents=True)
    (root / k_path.lstrip("/")).write_bytes(key_pem(existing).encode())
    os.chmod(root / k_path.lstrip("/"), 0o644)
    ex = ScriptedExecutor(root)
    with Session.open(tmp_path / "state") as s:
        e = Engine(DEMO, p, ex, session=s, recipes=[CertificateRecipe()], facts=Facts())
        res = e.apply()
        assert res[0].status == "applied", res[0].error
    cert = x509.load_pem_x509_certificate((root / c_path.lstrip("/")).read_bytes())
    from recipes.certificate import spki
    assert spki(cert.public_key()) == spki(existing.public_key())
    assert (root / k_path.lstrip("/")).stat().st_mode & 0o777 == 0o600  # mode fixed


# --------------------------------------------------------------------------- apply + rollback
class FakeTarget:
    """Scripted answers with the side effects the steps look for on the second run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fw_perm: Set[str] = set()
        self.fw_run: Set[str] = set()
        self.overrides: Set[str] = set()
        self.calls: List[List[str]] = []
        self.fail: Dict[str, int] = {}

    def script(self) -> Dict[str, object]:
        def rc(ok: bool) -> FakeCommand:
            return FakeCommand(0 if ok else 1)

        def postmap(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            db, _, src = argv[1].partition(":")
            suffix = ".lmdb" if db == "lmdb" else ".db"
            (self.root / (src.lstrip("/") + suffix)).write_bytes(b"map")
            return FakeCommand()

        def rm(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            for t in argv[2:]:
                ex.remove(t)
            return FakeCommand()

        def svc_arg(argv: List[str]) -> str:
            return argv[-1].split("=", 1)[1]

        def fw_add(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            self.fw_perm.add(svc_arg(argv))
            return FakeCommand()

        def fw_undo(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            name = argv[2].split("--remove-service=")[1].split()[0]
            self.fw_perm.discard(name)
            self.fw_run.discard(name)
            return FakeCommand()

        def fw_runtime_all(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            names = [x.split("=")[1] for x in argv[2].split() if "--query-service=" in x]
            return rc(all(n in self.fw_run for n in names))

        def fw_reload(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            self.fw_run = set(self.fw_perm)
            return FakeCommand()

        def group_edit(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            # usermod -a -G GROUP USER  /  gpasswd -d USER GROUP
            if argv[0] == "usermod":
                group, user, add = argv[3], argv[4], True
            else:
                user, group, add = argv[2], argv[3], False
            path = self.root / "etc/group"
            lines = []
            for line in path.read_text().splitlines():
                f = line.split(":")
                if f[0] == group:
                    members = [m for m in f[3].split(",") if m]
                    members = members + [user] if add else [m for m in members if m != user]
                    line = ":".join(f[:3] + [",".join(members)])
                lines.append(line)
            path.write_text("\n".join(lines) + "\n")
            return FakeCommand()

        def groupadd(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            path = self.root / "etc/group"
            lines = path.read_text().splitlines()
            if argv[0] == "groupadd":
                lines.append(f"{argv[-1]}:x:990:")
            else:
                lines = [x for x in lines if not x.startswith(argv[-1] + ":")]
            path.write_text("\n".join(lines) + "\n")
            return FakeCommand()

        def statoverride(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            if argv[1] == "--list":
                return rc(argv[2] in self.overrides)
            if argv[1] == "--add":
                self.overrides.add(argv[-1])
            else:
                self.overrides.discard(argv[-1])
            return FakeCommand()

        def check(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            return FakeCommand(self.fail.get(argv[0], 0), "", "fatal: broken" if
                               self.fail.get(argv[0]) else "")

        return {
            "postmap": postmap, "rm -f": rm,
            "firewall-cmd --permanent --add-service": fw_add,
            "firewall-cmd --permanent --query-service": lambda a, e: rc(
                svc_arg(a) in self.fw_perm),
            "sh -c firewall-cmd --permanent --remove-service": fw_undo,
            "sh -c firewall-cmd --query-service": fw_runtime_all,
            "firewall-cmd --reload": fw_reload,
            "usermod -a -G": group_edit, "gpasswd -d": group_edit,
            "dpkg-statoverride": statoverride,
            "groupadd": groupadd, "groupdel": groupadd,
            "postfix check": check, "doveconf -n": check,
        }


def stock_root(base: Path, platform: Platform) -> Path:
    root = base / "root"
    shutil.copytree(STOCK / platform.stock / "etc", root / "etc")
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\npostfix:x:101:101::/var/spool/postfix:/bin/false\n"
        "dovecot:x:102:102::/usr/lib/dovecot:/bin/false\n"
        "alice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n")
    (root / "etc/group").write_text(
        "root:x:0:\npostfix:x:101:\ndovecot:x:102:\nsasl:x:45:\nalice:x:1000:\nbob:x:1001:\n")
    os.chmod(root / "etc/postfix/main.cf", 0o640)  # an unusual mode must come back too
    return root


CASES = [
    ("rocky9", DEMO, "firewalld"),
    ("almalinux10", DEMO, "firewalld"),
    ("centos7", DEMO, None),
    ("debian13", DEMO, None),
    ("ubuntu24.04", DEMO, "ufw"),
    ("debian12", with_(DEMO, sasl=replace(DEMO.sasl, backend="cyrus", pam_group="mailusers"),
                       steps=(("firewall", True), ("postgrey", True),
                              ("virtual-aliases", True))), None),
    ("debian13", with_(DEMO, sasl=replace(DEMO.sasl, backend="cyrus")), None),
    ("rocky9", with_(DEMO, sasl=replace(DEMO.sasl, pam_group="mailusers"),
                     certificate=replace(DEMO.certificate, csr=True, key_type="ecdsa-p384")),
     "firewalld"),
]


@pytest.mark.parametrize("pid,answers,firewall", CASES)
def test_apply_twice_then_rollback_is_byte_identical(pid: str, answers: Answers,
                                                     firewall: Optional[str],
                                                     tmp_path: Path) -> None:
    p = get_platform(pid)
    root = stock_root(tmp_path, p)
    before = snapshot(root)
    fake = FakeTarget(root)
    ex = ScriptedExecutor(root, script=fake.script())
    facts = Facts(service_manager="systemd" if pid == "debian13" else "direct",
                  firewall=firewall, selinux_enforcing=p.is_el)
    with Session.open(tmp_path / "state") as s:
        e = Engine(answers, p, ex, session=s, recipes=my_recipes(), facts=facts)
        first = e.apply()
        assert all(r.status in ("applied", "skipped") for r in first), [
            (r.step, r.error, r.output) for r in first]
        # the result is what the plan said
        cert, key = cert_paths(answers, p)
        assert (root / key.lstrip("/")).stat().st_mode & 0o777 == 0o600
        values = confedit.read_main_cf((root / "etc/postfix/main.cf").read_text())
        assert "reject_unauth_destination" in values["smtpd_recipient_restrictions"]
        if answers.sasl.pam_group:
            group = (root / "etc/group").read_text()
            assert "mailusers:" in group and "alice" in group.split("mailusers:")[1]
        # a converged second run changes nothing
        second = e.apply()
        assert [(r.step, r.changed) for r in second if r.changed] == []
        assert all(r.status in ("applied", "skipped") for r in second)
        undo = e.rollback()
        assert undo.errors == []
    assert snapshot(root) == before
    assert fake.fw_perm == set() and fake.overrides == set()


def test_validation_failure_stops_before_any_reload(tmp_path: Path) -> None:
    p = get_platform("rocky9")
    root = stock_root(tmp_path, p)
    fake = FakeTarget(root)
    fake.fail["postfix"] = 1
    ex = ScriptedExecutor(root, script=fake.script())
    with Session.open(tmp_path / "state") as s:
        e = Engine(DEMO, p, ex, session=s, recipes=[ServicesRecipe()], facts=Facts())
        res = e.apply()
    assert res[0].status == "failed"
    assert "postfix check" in res[0].error and "fatal: broken" in res[0].error
    assert not any(c[:2] in (["postfix", "reload"], ["postfix", "start"]) for c in ex.calls)
    assert isinstance(ServicesRecipe().plan(PlanContext(
        DEMO, p, Facts(), ch.View(ex, p)))[0], ch.Validate)


def _proc_tcp(root: Path, local: str) -> None:
    (root / "proc/net").mkdir(parents=True, exist_ok=True)
    (root / "proc/net/tcp").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        f"   0: {local}:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n")


def test_postfix_restarts_when_it_listens_on_localhost_only(tmp_path: Path) -> None:
    p = get_platform("rocky9")
    root = stock_root(tmp_path, p)
    ex = DryRunExecutor(root)

    def postfix_change(main_cf_interfaces: str) -> ch.Change:
        text = confedit.edit_main_cf((root / "etc/postfix/main.cf").read_text(),
                                     {"inet_interfaces": main_cf_interfaces})
        (root / "etc/postfix/main.cf").write_text(text)
        changes = ServicesRecipe().plan(PlanContext(DEMO, p, Facts(), ch.View(ex, p)))
        return [c for c in changes if getattr(c, "name", "") == "postfix"][0]

    assert not postfix_change("all").must_restart  # type: ignore[attr-defined]
    _proc_tcp(root, "0100007F")  # 127.0.0.1:25
    assert postfix_change("all").must_restart  # type: ignore[attr-defined]
    assert not postfix_change("localhost").must_restart  # type: ignore[attr-defined]
    _proc_tcp(root, "00000000")  # 0.0.0.0:25
    assert not postfix_change("all").must_restart  # type: ignore[attr-defined]


def test_imap_logindisabled_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import imaplib

    from wizard import checks

    class Sock:
        def __init__(self, local: str) -> None:
            self.local = local

        def getsockname(self) -> Tuple[str, int]:
            return (self.local, 40000)

        def getpeername(self) -> Tuple[str, int]:
            return ("192.0.2.10", 143)

    class Fake:
        def __init__(self, caps: Tuple[str, ...], local: str) -> None:
            self.capabilities = caps
            self.sock = Sock(local)

        def shutdown(self) -> None:
            pass

    caps: Dict[str, Tuple[str, ...]] = {}
    local = {"ip": "192.0.2.99"}
    monkeypatch.setattr(imaplib, "IMAP4", lambda *a, **k: Fake(caps["v"], local["ip"]))
    caps["v"] = ("IMAP4REV1", "STARTTLS", "LOGINDISABLED")
    assert checks.imap_logindisabled("192.0.2.10").ok is True
    caps["v"] = ("IMAP4REV1", "STARTTLS", "AUTH=PLAIN")
    assert checks.imap_logindisabled("192.0.2.10").ok is False
    # probing from the server's own address: Dovecot trusts it, so this is only informative
    local["ip"] = "192.0.2.10"
    assert checks.imap_logindisabled("192.0.2.10").ok is None


def test_recipes_describe_themselves() -> None:
    for r in my_recipes():
        d = r.describe()
        assert d["id"] and d["title"] and d["summary"] and d["outdated"] and d["guide"]
        for pid in PLATFORMS:
            assert r.manual_checks(DEMO, get_platform(pid))



def test_postfix_restarts_when_inet_protocols_drops_a_family_it_listens_on(
        tmp_path: Path) -> None:
    """A reload keeps the old protocols: all -> ipv4 with an IPv6 listener needs a restart
    (seen in the systemd e2e scenario: the master died binding submission on IPv6)."""
    p = get_platform("rocky9")
    root = stock_root(tmp_path, p)
    ex = DryRunExecutor(root)
    _proc_tcp(root, "00000000")  # 0.0.0.0:25
    (root / "proc/net/tcp6").write_text(
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000000000000:0019 00000000000000000000000000000000:0000 0A\n")

    def must_restart(protocols: str) -> bool:
        main = root / "etc/postfix/main.cf"
        main.write_text(confedit.edit_main_cf(main.read_text(), {"inet_interfaces": "all",
                                                                  "inet_protocols": protocols}))
        changes = ServicesRecipe().plan(PlanContext(DEMO, p, Facts(), ch.View(ex, p)))
        svc = [c for c in changes if getattr(c, "name", "") == "postfix"][0]
        return bool(svc.must_restart)  # type: ignore[attr-defined]

    assert not must_restart("all")
    assert must_restart("ipv4")
    (root / "proc/net/tcp6").write_text("  sl  local_address\n")  # IPv4 listener only
    assert not must_restart("ipv4")
    assert must_restart("ipv6")


def test_validate_runs_when_the_configuration_changed_since_the_last_good_check(
        tmp_path: Path) -> None:
    from wizard.changes import Validate
    from wizard.errors import ValidationFailed
    from wizard.executor import FakeCommand, ScriptedExecutor

    root = tmp_path / "root"
    (root / "etc/postfix").mkdir(parents=True)
    main = root / "etc/postfix/main.cf"
    main.write_text("a = 1\n")
    answer = {"rc": 0}
    ex = ScriptedExecutor(root, {"postfix check": lambda argv, e: FakeCommand(answer["rc"],
                                                                              "", "bad")})
    ctx = ch.ChangeContext(ex, get_platform("debian12"), ch.BackupStore(tmp_path / "bk"))
    v = Validate(["postfix", "check"], config=["/etc/postfix/main.cf"])
    assert v.prepare(ctx) is None and len(ex.calls) == 1
    assert v.prepare(ctx) is None and len(ex.calls) == 1  # same config: not repeated
    main.write_text("a = 2\n")
    answer["rc"] = 1
    with pytest.raises(ValidationFailed, match="nothing was restarted"):
        v.prepare(ctx)
    assert len(ex.calls) == 2
    with pytest.raises(ValidationFailed):  # a failed check is never remembered as good
        v.prepare(ctx)


def _doveconf_h(root: Path, version: str):
    """A fake ``doveconf -h`` reading the top-level settings of the target's conf.d files, as
    Dovecot ``version`` reports them.  2.4 puts a top-level ``ssl_server_*`` setting into the
    ``ssl_server`` named filter: ``-h ssl_server_cert_file`` prints the empty global default
    and only ``-h ssl_server/ssl_server_cert_file`` the value (Debian 13's 2.4.1, found by
    tests/e2e/test_trixie.py)."""
    def run(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        settings: Dict[str, str] = {}
        for f in sorted((root / "etc/dovecot/conf.d").glob("*.conf")):
            for line in f.read_text().splitlines():
                m = re.match(r"^([a-z0-9_]+)\s*=\s*(.*?)\s*$", line)
                if m:
                    settings[m.group(1)] = m.group(2)
        out = []
        for key in argv[2:]:
            scope, _, name = key.rpartition("/")
            in_filter = version == "2.4" and name.startswith("ssl_server_")
            out.append(settings.get(name, "") if scope == ("ssl_server" if in_filter else "")
                       else "")
        return FakeCommand(0, "\n".join(out) + "\n")

    return run


@pytest.mark.parametrize("pid,version", [("debian13", "2.4"), ("debian12", "2.3")])
def test_tls_dovecot_verify_reads_what_dovecot_uses(pid: str, version: str,
                                                    tmp_path: Path) -> None:
    """The verify step must ask doveconf for the certificate the way Dovecot 2.4 reports it
    (in the ssl_server filter), else a correct setup fails verification."""
    p = get_platform(pid)
    root = stock_root(tmp_path, p)
    doveconf = root / "usr/bin/doveconf"
    doveconf.parent.mkdir(parents=True)
    doveconf.write_text("#!/bin/sh\n")
    doveconf.chmod(0o755)
    fake = FakeTarget(root)
    script = fake.script()
    script["doveconf -h"] = _doveconf_h(root, version)
    ex = ScriptedExecutor(root, script=script)
    with Session.open(tmp_path / "state") as s:
        e = Engine(DEMO, p, ex, session=s, recipes=[TlsDovecotRecipe()], facts=Facts())
        assert [r.status for r in e.apply()] == ["applied"]
    results = TlsDovecotRecipe().verify(VerifyContext(DEMO, p, Facts(), ex))
    cert, key = cert_paths(DEMO, p)
    got = {r.name: r for r in results if r.name.startswith("dovecot ")}
    assert got and all(r.ok for r in got.values()), [(r.name, r.detail) for r in got.values()]
    if version == "2.4":
        assert got["dovecot ssl_server_cert_file"].detail == f"ssl_server_cert_file = {cert}"
        assert got["dovecot ssl_server_key_file"].detail == f"ssl_server_key_file = {key}"


@pytest.mark.parametrize("pid, unit", [("debian12", "postfix@-"), ("ubuntu24.04", "postfix@-"),
                                       ("debian13", "postfix"), ("rocky9", "postfix")])
def test_postfix_restart_under_systemd_asks_the_unit_that_runs_the_master(
        pid: str, unit: str, tmp_path: Path) -> None:
    """Debian 12's postfix.service is a oneshot wrapper around postfix@-; Debian 13's (Postfix
    3.10) is the instance itself and postfix@- stays inactive.  Asking postfix@- there made
    mailwizard believe Postfix was stopped: its restart became a no-op ``systemctl start`` and
    the new master.cf (submission, 587) never loaded (tests/e2e/test_trixie_systemd.py)."""
    p = get_platform(pid)
    root = stock_root(tmp_path, p)
    (root / "run/systemd/system").mkdir(parents=True)
    ex = ScriptedExecutor(root, {
        # only the unit that runs the master is active
        "systemctl is-active --quiet postfix@-": FakeCommand(0 if unit == "postfix@-" else 3),
        "systemctl is-active --quiet postfix": FakeCommand(0 if unit == "postfix" else 3),
        "systemctl is-enabled": FakeCommand(0)})
    _proc_tcp(root, "00000000")  # 0.0.0.0:25
    (root / "proc/net/tcp6").write_text(
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000000000000:0019 00000000000000000000000000000000:0000 0A\n")
    main = root / "etc/postfix/main.cf"
    main.write_text(confedit.edit_main_cf(main.read_text(), {"inet_interfaces": "all",
                                                              "inet_protocols": "ipv4"}))
    changes = ServicesRecipe().plan(PlanContext(DEMO, p, Facts(), ch.View(ex, p)))
    svc = [c for c in changes if getattr(c, "name", "") == "postfix"][0]
    assert svc.must_restart  # type: ignore[attr-defined]
    ctx = ch.ChangeContext(ex, p, ch.BackupStore(tmp_path / "bk"))
    rec = svc.prepare(ctx)
    assert rec is not None and rec["was_running"], rec
    svc.commit(ctx, rec)
    assert ["systemctl", "restart", "postfix"] in ex.calls, ex.calls
    assert ["systemctl", "start", "postfix"] not in ex.calls, ex.calls
