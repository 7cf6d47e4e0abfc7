"""Platform profiles: what differs between the distributions mailwizard supports.

A profile is chosen from ``<root>/etc/os-release`` (or ``--platform ID`` for dry runs). The facts
come from ``shared/platforms.md``; the comments say which trap each field exists for.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .errors import PlatformError

Version = Tuple[int, ...]


@dataclass(frozen=True)
class Platform:
    """Everything a recipe needs to know about one distribution release."""

    id: str
    """Short id used on the command line, e.g. ``rocky9``, ``debian12``, ``ubuntu24.04``."""
    name: str
    family: str
    """``el`` (RHEL and rebuilds) or ``debian`` (Debian and Ubuntu)."""
    major: int
    stock: str
    """Folder under ``wizard/stock`` with the files the packages ship."""
    pkg_manager: str
    """``yum``, ``dnf`` or ``apt``."""
    postfix_version: Version
    dovecot_version: Version
    default_database_type: str
    """``hash`` everywhere except EL10 (``lmdb``: built without Berkeley DB)."""
    packages_base: Tuple[str, ...]
    packages_dovecot: Tuple[str, ...]
    packages_cyrus: Tuple[str, ...]
    packages_postgrey: Tuple[str, ...]
    packages_remove: Tuple[str, ...]
    """Other MTAs to remove when present."""
    packages_spf: Tuple[str, ...]
    """The SPF policy server for Postfix (EPEL on EL)."""
    spf_policy_argv: str
    """master.cf spawn arguments of the packaged SPF policy server (its user and program)."""
    cert_dir: str
    key_dir: str
    dovecot_cert: str
    """The certificate path the stock Dovecot configuration points at."""
    dovecot_key: str
    saslauthd_conf: str
    cyrus_smtpd_conf: str
    smtpd_chroot: bool
    """Debian and Ubuntu run smtpd chrooted in /var/spool/postfix."""
    firewall: Optional[str]
    """``firewalld``, ``ufw`` or None (what is usually present; checked at run time)."""
    firewalld_submission: str = "smtp-submission"
    selinux: bool = False
    mta_alternative: bool = False
    """EL8+: ``alternatives --set mta /usr/sbin/sendmail.postfix``."""
    mail_client: str = ""
    mail_log: str = ""
    compatibility_level: str = ""
    """Value to write when main.cf has none (fresh "No configuration" Debian install)."""
    notes: Tuple[str, ...] = field(default_factory=tuple)
    packages_acme: Tuple[str, ...] = ("certbot",)
    """The ACME client (certificate mode acme); EPEL's on EL."""
    packages_dkim: Tuple[str, ...] = ()
    """OpenDKIM, the signing milter, and its tools (``opendkim-testkey``): step dkim."""
    packages_epel: Tuple[str, ...] = ()
    """Packages that only EPEL provides here (EL); installing one needs the epel step."""
    epel_release: str = ""
    """The package that defines the EPEL repositories (``epel-release``; Oracle Linux
    ``oracle-epel-release-elN``); empty where there is no EPEL (Debian, Ubuntu)."""
    epel_release_url: str = ""
    """Where RHEL gets it (not in RHEL's own repositories): the Fedora project's rpm."""
    crb_repo: str = ""
    """The repository EPEL packages may depend on: ``crb`` (EL9/10), ``powertools`` (EL8),
    Oracle's ``olN_codeready_builder``, RHEL's CodeReady Builder; empty on EL7."""

    @property
    def is_el(self) -> bool:
        return self.family == "el"

    @property
    def is_debian(self) -> bool:
        return self.family == "debian"

    @property
    def nologin(self) -> str:
        """The shell of mail-only accounts: no interactive login (SSH, console)."""
        return "/sbin/nologin" if self.is_el else "/usr/sbin/nologin"

    @property
    def dovecot_syntax(self) -> str:
        """``2.2``, ``2.3`` or ``2.4``: picks the configuration dialect."""
        if self.dovecot_version >= (2, 4):
            return "2.4"
        if self.dovecot_version >= (2, 3):
            return "2.3"
        return "2.2"

    @property
    def postfix_unit(self) -> str:
        """The systemd unit the Postfix master runs in.

        Debian's postfix up to 3.9.1-7 (Debian 12, Ubuntu 22.04/24.04) runs the master in the
        instance ``postfix@-``; ``postfix.service`` is a oneshot wrapper that stays "active"
        even when the master is gone. Since then (Debian 13, Postfix 3.10) ``postfix.service``
        is the instance itself and ``postfix@-`` stays inactive. RHEL has only ``postfix``."""
        if self.is_debian and self.postfix_version < (3, 9):
            return "postfix@-"
        return "postfix"

    @property
    def has_relay_restrictions(self) -> bool:
        return self.postfix_version >= (2, 10)

    @property
    def has_postconf_master(self) -> bool:
        return self.postfix_version >= (2, 11)

    def with_versions(self, postfix: Optional[Version] = None,
                      dovecot: Optional[Version] = None,
                      database_type: Optional[str] = None) -> Platform:
        """The same profile with versions read from the installed software."""
        return replace(
            self,
            postfix_version=postfix or self.postfix_version,
            dovecot_version=dovecot or self.dovecot_version,
            default_database_type=database_type or self.default_database_type,
        )


def _el(distro: str, label: str, major: int) -> Platform:
    pf: Version
    dv: Version
    if major == 7:
        pf, dv, db = (2, 10, 1), (2, 2, 36), "hash"
    elif major == 8:
        pf, dv, db = (3, 5, 8), (2, 3, 16), "hash"
    elif major == 9:
        pf, dv, db = (3, 5, 9), (2, 3, 16), "hash"
    else:
        pf, dv, db = (3, 8, 5), (2, 3, 21), "lmdb"
    notes: List[str] = []
    if major == 10:
        notes.append("Postfix on EL10 is built without Berkeley DB: maps use lmdb:, not hash:.")
    if major >= 8:
        notes.append("genkey and crypto-utils are gone; mailwizard makes keys with cryptography.")
    epel_release, epel_url, crb = "epel-release", "", ""
    if distro == "ol":
        epel_release = f"oracle-epel-release-el{major}"
    elif distro == "rhel":
        epel_url = (f"https://dl.fedoraproject.org/pub/epel/epel-release-latest-{major}"
                    ".noarch.rpm")
    if major >= 8:
        if distro == "ol":
            crb = f"ol{major}_codeready_builder"
        elif distro == "rhel":
            crb = f"codeready-builder-for-rhel-{major}-$(arch)-rpms"
        else:
            crb = "powertools" if major == 8 else "crb"
    return Platform(
        id=f"{distro}{major}",
        name=f"{label} {major}",
        family="el",
        major=major,
        stock=f"el{major}",
        pkg_manager="yum" if major == 7 else "dnf",
        postfix_version=pf,
        dovecot_version=dv,
        default_database_type=db,
        packages_base=("postfix", "openssl", "ca-certificates"),
        packages_dovecot=("dovecot",),
        packages_cyrus=("cyrus-sasl", "cyrus-sasl-plain"),
        packages_postgrey=("postgrey",),
        # EPEL 7 ships the tools inside opendkim; EPEL 8+ splits them into opendkim-tools
        packages_dkim=("opendkim",) if major == 7 else ("opendkim", "opendkim-tools"),
        packages_epel=("postgrey", "pypolicyd-spf", "certbot", "opendkim", "opendkim-tools"),
        epel_release=epel_release,
        epel_release_url=epel_url,
        crb_repo=crb,
        packages_remove=("sendmail",),
        packages_spf=("pypolicyd-spf",),
        spf_policy_argv="user=nobody argv=/usr/libexec/postfix/policyd-spf",
        cert_dir="/etc/pki/tls/certs",
        key_dir="/etc/pki/tls/private",
        dovecot_cert="/etc/pki/dovecot/certs/dovecot.pem",
        dovecot_key="/etc/pki/dovecot/private/dovecot.pem",
        saslauthd_conf="/etc/sysconfig/saslauthd",
        cyrus_smtpd_conf="/etc/sasl2/smtpd.conf",
        smtpd_chroot=False,
        firewall="firewalld",
        firewalld_submission="smtp-submission",
        selinux=True,
        mta_alternative=major >= 8,
        mail_client="mailx" if major <= 8 else "s-nail",
        mail_log="/var/log/maillog",
        compatibility_level="2" if major in (8, 9) else ("" if major == 7 else "3.6"),
        notes=tuple(notes),
    )


def _deb(distro: str, label: str, version: str, pf: Version, dv: Version, stock: str,
         compat: str) -> Platform:
    ubuntu = distro == "ubuntu"
    return Platform(
        id=f"{distro}{version}",
        name=f"{label} {version}",
        family="debian",
        major=int(version.split(".")[0]),
        stock=stock,
        pkg_manager="apt",
        postfix_version=pf,
        dovecot_version=dv,
        default_database_type="hash",
        packages_base=("postfix", "openssl", "ca-certificates"),
        packages_dovecot=("dovecot-core", "dovecot-imapd", "dovecot-pop3d"),
        packages_cyrus=("sasl2-bin", "libsasl2-modules"),
        packages_postgrey=("postgrey",),
        packages_remove=("exim4-daemon-light", "exim4-daemon-heavy", "sendmail-bin"),
        packages_spf=("postfix-policyd-spf-python",),
        packages_dkim=("opendkim", "opendkim-tools"),
        # the package's postinst creates the system user policyd-spf (README.Debian)
        spf_policy_argv="user=policyd-spf argv=/usr/bin/policyd-spf",
        cert_dir="/etc/ssl/certs",
        key_dir="/etc/ssl/private",
        dovecot_cert="/etc/dovecot/private/dovecot.pem",
        dovecot_key="/etc/dovecot/private/dovecot.key",
        saslauthd_conf="/etc/default/saslauthd",
        cyrus_smtpd_conf="/etc/postfix/sasl/smtpd.conf",
        smtpd_chroot=True,
        firewall="ufw" if ubuntu else None,
        mail_client="bsd-mailx",
        mail_log="/var/log/mail.log",
        compatibility_level=compat,
    )


def _build_profiles() -> Dict[str, Platform]:
    profiles: Dict[str, Platform] = {}
    for p in [
        _el("centos", "CentOS Linux", 7),
        _el("centos-stream", "CentOS Stream", 9),
        _el("centos-stream", "CentOS Stream", 10),
        *[_el(d, label, m) for d, label in (("rhel", "Red Hat Enterprise Linux"),
                                             ("rocky", "Rocky Linux"),
                                             ("almalinux", "AlmaLinux"),
                                             ("ol", "Oracle Linux")) for m in (8, 9, 10)],
        _deb("debian", "Debian", "12", (3, 7, 11), (2, 3, 19), "debian12", "3.6"),
        _deb("debian", "Debian", "13", (3, 10, 1), (2, 4, 1), "debian13", "3.9"),
        _deb("ubuntu", "Ubuntu", "22.04", (3, 6, 4), (2, 3, 16), "ubuntu2204", "3.6"),
        _deb("ubuntu", "Ubuntu", "24.04", (3, 8, 6), (2, 3, 21), "ubuntu2404", "3.6"),
    ]:
        profiles[p.id] = p
    return profiles


PROFILES: Dict[str, Platform] = _build_profiles()
ALIASES = {"rhel9": "rhel9", "alma9": "almalinux9", "alma10": "almalinux10",
           "alma8": "almalinux8", "centos9": "centos-stream9", "centos10": "centos-stream10",
           "ubuntu2204": "ubuntu22.04", "ubuntu2404": "ubuntu24.04", "ubuntu22": "ubuntu22.04",
           "ubuntu24": "ubuntu24.04", "bookworm": "debian12", "trixie": "debian13",
           "el7": "centos7", "el8": "rocky8", "el9": "rocky9", "el10": "almalinux10"}


def platform_ids() -> List[str]:
    return sorted(PROFILES)


def get_platform(pid: str) -> Platform:
    """Profile by id (``rocky9``) or a friendly alias (``alma10``, ``bookworm``)."""
    key = pid.strip().lower()
    key = ALIASES.get(key, key)
    if key not in PROFILES:
        raise PlatformError(
            f"unknown platform {pid!r}; choose one of: {', '.join(platform_ids())}")
    return PROFILES[key]


def parse_os_release(text: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            parts = shlex.split(value)
            out[key.strip()] = parts[0] if parts else ""
        except ValueError:
            out[key.strip()] = value.strip().strip('"')
    return out


_DEB_CODENAMES = {"bookworm": "12", "trixie": "13"}


def detect_platform(root: Path) -> Platform:
    """Pick the profile for the system under ``root``.

    Raises:
        PlatformError: with what was found, when the system is not supported.
    """
    root = Path(root)
    osr = None
    for cand in ("etc/os-release", "usr/lib/os-release"):
        p = root / cand
        if p.is_file():
            osr = parse_os_release(p.read_text(encoding="utf-8", errors="replace"))
            break
    if osr is None:
        rr = root / "etc/redhat-release"
        if rr.is_file():
            raise PlatformError(
                f"{rr.read_text(errors='replace').strip()} is too old: mailwizard supports "
                "CentOS 7 and newer (CentOS 5/6 have no os-release and are end of life)")
        raise PlatformError(f"cannot tell the platform: {root / 'etc/os-release'} is missing")
    os_id = osr.get("ID", "").lower()
    like = osr.get("ID_LIKE", "").lower().split()
    version = osr.get("VERSION_ID", "")
    pretty = osr.get("PRETTY_NAME", os_id or "unknown system")
    major = version.split(".")[0] if version else ""

    if os_id == "debian" or (os_id != "ubuntu" and "debian" in like and "ubuntu" not in like):
        if not major:
            major = _DEB_CODENAMES.get(osr.get("VERSION_CODENAME", ""), "")
        if os_id == "debian" and major in ("12", "13"):
            return PROFILES[f"debian{major}"]
        raise PlatformError(f"{pretty} is not supported: Debian 12 and 13 are")
    if os_id == "ubuntu" or "ubuntu" in like:
        if os_id == "ubuntu" and version in ("22.04", "24.04"):
            return PROFILES[f"ubuntu{version}"]
        raise PlatformError(f"{pretty} is not supported: Ubuntu 22.04 and 24.04 are")
    el_like = os_id in ("rhel", "centos", "rocky", "almalinux", "ol") or "rhel" in like or (
        "fedora" in like and os_id != "fedora")
    if el_like:
        if not major.isdigit() or int(major) not in (7, 8, 9, 10):
            raise PlatformError(f"{pretty} is not supported: RHEL-family 7 to 10 are")
        m = int(major)
        if os_id == "centos":
            if m == 7:
                return PROFILES["centos7"]
            if m == 8:
                return replace(_el("centos-stream", "CentOS Stream", 8), name=pretty)
            return PROFILES[f"centos-stream{m}"]
        if m == 7:
            return replace(PROFILES["centos7"], id=f"{os_id}7", name=pretty)
        key = f"{os_id}{m}"
        if key in PROFILES:
            return PROFILES[key]
        return replace(_el(os_id or "el", pretty, m), name=pretty)
    raise PlatformError(
        f"{pretty} is not supported: mailwizard knows RHEL-family 7-10 (CentOS, Rocky, Alma, "
        "RHEL, Oracle), Debian 12/13 and Ubuntu 22.04/24.04")


STOCK_DIR = Path(__file__).parent / "stock"


def stock_file(platform: Platform, path: str) -> Optional[Path]:
    """The shipped copy of ``path`` (absolute target path) for ``platform``, if we have one."""
    cand = STOCK_DIR / platform.stock / path.lstrip("/")
    return cand if cand.is_file() else None
