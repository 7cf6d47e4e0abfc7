"""Step 11: TLS in Dovecot (IMAPS/POP3S, STARTTLS, no clear-text passwords)."""

from __future__ import annotations

from shlex import quote as q
from typing import Dict, List

from wizard import checks
from wizard.answers import Answers
from wizard.changes import Change, DovecotSettings
from wizard.checks import CheckResult
from wizard.platforms import Platform
from wizard.recipe import PlanContext, Recipe, VerifyContext

from ._daemons import dovecot_running
from ._dovecot import DOVECOT_CONFD
from .certificate import cert_paths

SSL_CONF = f"{DOVECOT_CONFD}/10-ssl.conf"
AUTH_CONF = f"{DOVECOT_CONFD}/10-auth.conf"


CIPHER_EXCLUDE = "!aNULL:!SHA1:!SHA256:!SHA384"
"""No anonymous suites, and none with a SHA record MAC: in TLS 1.2 those are the CBC suites
(AEAD suites have no separate MAC). TLS 1.3 suites are not affected by the list."""

DOVECOT_DEFAULT_CIPHERS = ("ALL:!kRSA:!SRP:!kDHd:!DSS:!aNULL:!eNULL:!EXPORT:!DES:!3DES:!MD5:"
                           "!PSK:!RC4:!ADH:!LOW")
"""Dovecot 2.3/2.4's own default list (without its trailing @STRENGTH)."""


def cipher_list(platform: Platform) -> str:
    """``ssl_cipher_list`` for IMAPS/POP3S: on EL8+ the system crypto policy
    (``PROFILE=SYSTEM``, which EL's Dovecot ships and EL's OpenSSL extends with what follows
    it), elsewhere Dovecot's own default; both without aNULL and CBC suites."""
    if platform.is_el and platform.major >= 8:
        return f"PROFILE=SYSTEM:{CIPHER_EXCLUDE}"
    parts = DOVECOT_DEFAULT_CIPHERS.split(":") + CIPHER_EXCLUDE.split(":")
    return ":".join(dict.fromkeys(parts)) + ":@STRENGTH"


def ssl_settings(answers: Answers, platform: Platform) -> Dict[str, str]:
    """10-ssl.conf settings in the dialect of the platform's Dovecot (2.2, 2.3 or 2.4)."""
    cert, key = cert_paths(answers, platform)
    syntax = platform.dovecot_syntax
    if syntax == "2.4":
        # 2.4 renamed the settings and takes plain paths (no "<" file inclusion); the cipher
        # list keeps its name (a global setting, read by the ssl_server side too)
        return {"ssl": "required", "ssl_server_cert_file": cert, "ssl_server_key_file": key,
                "ssl_min_protocol": "TLSv1.2", "ssl_cipher_list": cipher_list(platform)}
    out = {"ssl": "required", "ssl_cert": f"<{cert}", "ssl_key": f"<{key}"}
    if syntax == "2.3":
        out["ssl_min_protocol"] = "TLSv1.2"
    else:  # 2.2 (EL7) has no ssl_min_protocol
        out["ssl_protocols"] = "!SSLv2 !SSLv3 !TLSv1 !TLSv1.1"
    out["ssl_cipher_list"] = cipher_list(platform)
    return out


def auth_settings(platform: Platform) -> Dict[str, str]:
    if platform.dovecot_syntax == "2.4":
        return {"auth_allow_cleartext": "no"}
    return {"disable_plaintext_auth": "yes"}


class TlsDovecotRecipe(Recipe):
    id = "tls-dovecot"
    title = "TLS for Dovecot (IMAP and POP3)"
    guide = ("Guide 000, part 3 section 8 (TLS in Dovecot); guide 004 (no anonymous "
             "ciphers)")
    summary = (
        "Makes Dovecot present the same certificate as Postfix and refuse any login that is "
        "not protected by TLS: IMAPS (993) and POP3S (995) are encrypted from the first byte, "
        "and on 143/110 a client must issue STARTTLS before it may log in. Only TLS 1.2 or "
        "newer is accepted, without anonymous (aNULL) or old CBC suites: on EL8 and newer the "
        "system crypto policy is kept and only narrowed (PROFILE=SYSTEM plus exclusions), "
        "elsewhere Dovecot's own default list is narrowed the same way. The packaged "
        "certificate lines are replaced in place: on EL they "
        "point at /etc/pki/dovecot files that only the dovecot-init service creates (missing "
        "in containers, where Dovecot would then refuse to start), on Debian at the snakeoil "
        "certificate. Dovecot 2.4 (Debian 13) uses its new setting names.")
    outdated = (
        "Dovecot 1.x's /etc/dovecot.conf with ssl_cert_file, ssl_disable and `protocols = imap "
        "imaps pop3 pop3s` is invalid since 2.0: the TLS ports are listeners in 10-master.conf "
        "and are on by default; certificates go in conf.d/10-ssl.conf.",
        "`ssl_cert = </path` (2.x) became `ssl_server_cert_file = /path` in Dovecot 2.4, and "
        "disable_plaintext_auth = yes became auth_allow_cleartext = no.",
        "ssl_protocols was replaced by ssl_min_protocol in 2.3; guide 000's ssl_cipher_list = "
        "ALL:!LOW:!SSLv2 is obsolete and still allows CBC suites: we start from EL's "
        "PROFILE=SYSTEM or Dovecot's default and remove aNULL and the SHA-MAC (CBC) suites.",
        "login_process_size and pop3_uidl_format are no longer needed.",
    )
    touches = (SSL_CONF, AUTH_CONF)

    def plan(self, ctx: PlanContext) -> List[Change]:
        p = ctx.platform
        return [
            DovecotSettings(SSL_CONF, ssl_settings(ctx.answers, p),
                            reason="our certificate; TLS required; TLS 1.2 or newer; no "
                                   "anonymous or CBC cipher suites"),
            DovecotSettings(AUTH_CONF, auth_settings(p),
                            reason="no password without TLS (LOGINDISABLED before STARTTLS)"),
        ]

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        a, p, ex = ctx.answers, ctx.platform, ctx.executor
        expected = dict(ssl_settings(a, p))
        expected.update(auth_settings(p))
        out = checks.doveconf_values(ex, expected)
        if ex.rehearsal:
            out.append(checks.not_checked("IMAPS/POP3S probes", "a running Dovecot"))
            return out
        if not dovecot_running(ex):
            out.append(checks.info("IMAPS/POP3S probes", "dovecot is not running",
                                   "start it (step services) and verify again"))
            return out
        if a.imap:
            out.append(checks.port_open(ctx.probe_host, 993))
            out.append(checks.imap_logindisabled(ctx.probe_host, 143))
        if a.pop3:
            out.append(checks.port_open(ctx.probe_host, 995))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        return [
            f"openssl s_client -connect {q(answers.hostname + ':993')} -quiet   # '* OK' greeting",
            f"openssl s_client -starttls imap -connect {q(answers.hostname + ':143')} </dev/null",
            "doveconf -n | grep -E 'ssl|cert|key|cleartext|plaintext'   # 2.4 nests ssl_server { }",
            "doveconf -h ssl_cipher_list ssl_min_protocol",
            f"openssl s_client -connect {q(answers.hostname + ':993')} -tls1_2 "
            "-cipher ECDHE-RSA-AES128-SHA </dev/null   # expect: handshake failure (CBC)",
        ]
