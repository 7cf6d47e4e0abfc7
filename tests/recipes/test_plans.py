"""Whole plans: every step plans against the stock files of every platform, the demo plan of
steps 7-13 per platform, passwords never shown, the order of the steps, their documentation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from recipe_plans import ANSWERS, DEMO, PASSWORD, PLATFORMS, Planned, dry_plan, steps_7_13

from recipes import all_recipes
from recipes.certificate import cert_paths
from wizard import changes as ch
from wizard import confedit
from wizard.answers import User
from wizard.platforms import get_platform
from wizard.secret import Secret


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
def test_demo_plan_per_platform(pid: str, empty_root: Path) -> None:
    p = get_platform(pid)
    plan = Planned(empty_root, p)
    values = plan.main_cf()
    # never an open relay
    assert "reject_unauth_destination" in values["smtpd_recipient_restrictions"]
    assert values["disable_vrfy_command"] == "yes"  # nobody can probe for accounts
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
    # TLS protocol syntax per Postfix version: the floor is on mandatory TLS (587) only
    if p.postfix_version >= (3, 6):
        assert values["smtpd_tls_mandatory_protocols"] == ">=TLSv1.2"
    else:
        assert ">=" not in active
        assert values["smtpd_tls_mandatory_protocols"] == "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"
    # port 25 keeps Postfix's opportunistic defaults; 587 gets strong ciphers only
    assert "smtpd_tls_protocols" not in values and "smtpd_tls_ciphers" not in values
    assert values["smtpd_tls_mandatory_ciphers"] == "high"
    assert values["smtpd_tls_mandatory_exclude_ciphers"] == "aNULL, SHA1, SHA256, SHA384"
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
    # IMAPS/POP3S: no anonymous or CBC suites; EL8+ narrows the system crypto policy
    ciphers = ssl_conf["ssl_cipher_list"]
    assert ciphers.startswith("PROFILE=SYSTEM:") == (p.is_el and p.major >= 8), ciphers
    assert all(x in ciphers.split(":") for x in ("!aNULL", "!SHA1", "!SHA256", "!SHA384"))
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


def test_passwords_never_in_plans(tmp_path: Path) -> None:
    answers = ANSWERS.with_changes(users=tuple(
        User(u.name, u.create, Secret(PASSWORD)) for u in ANSWERS.users))
    for pid in ("rocky9", "debian13"):
        for plan in dry_plan(tmp_path, pid, answers).values():
            for c, pv in zip(plan.changes, plan.previews):
                blob = " ".join([c.describe(), pv.title, pv.diff, pv.note, *pv.commands,
                                 pv.new_content or ""])
                assert PASSWORD not in blob


def test_all_recipes_start_with_steps_1_to_6() -> None:
    ids = [r.id for r in all_recipes()]
    assert ids[:7] == ["preflight", "epel", "packages", "postfix-basics", "dovecot-basics",
                       "maildir", "aliases"]
    assert len(ids) == len(set(ids))


def test_recipes_describe_themselves() -> None:
    for r in steps_7_13():
        d = r.describe()
        assert d["id"] and d["title"] and d["summary"] and d["outdated"] and d["guide"]
        for pid in PLATFORMS:
            assert r.manual_checks(DEMO, get_platform(pid))
