"""Platform detection from os-release, and the profile facts that matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from wizard.errors import PlatformError
from wizard.platforms import detect_platform, get_platform, platform_ids

OS_RELEASES = {
    'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n': "centos7",
    'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n': "rocky9",
    'ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="10.0"\n': "almalinux10",
    'ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.6"\n': "rhel9",
    'ID="rhel"\nID_LIKE="centos fedora"\nVERSION_ID="10.0"\n': "rhel10",
    'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\n': "centos-stream9",
    'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="10"\n': "centos-stream10",
    'ID="ol"\nID_LIKE="fedora"\nVERSION_ID="8.10"\n': "ol8",
    'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n': "debian12",
    'ID=debian\nVERSION_CODENAME=trixie\n': "debian13",
    'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n': "ubuntu24.04",
    'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n': "ubuntu22.04",
}


@pytest.mark.parametrize("text, expected", list(OS_RELEASES.items()))
def test_detect(tmp_path: Path, text: str, expected: str):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(text)
    assert detect_platform(tmp_path).id == expected


@pytest.mark.parametrize("text, message", [
    ('ID=fedora\nVERSION_ID=40\n', "not supported"),
    ('ID=debian\nVERSION_ID="11"\n', "Debian 12 and 13 are"),
    ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="20.04"\n', "Ubuntu 22.04 and 24.04"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="6.10"\n', "RHEL-family 7 to 10"),
    ('ID=debian\n', "Debian 12 and 13 are"),
])
def test_refused(tmp_path: Path, text: str, message: str):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(text)
    with pytest.raises(PlatformError, match=message):
        detect_platform(tmp_path)


def test_missing_os_release(tmp_path: Path):
    with pytest.raises(PlatformError, match="missing"):
        detect_platform(tmp_path)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/redhat-release").write_text("CentOS release 5.11 (Final)\n")
    with pytest.raises(PlatformError, match="too old"):
        detect_platform(tmp_path)


def test_profiles_facts():
    assert get_platform("almalinux10").default_database_type == "lmdb"
    assert all(get_platform(p).default_database_type == "hash"
               for p in platform_ids() if not p.endswith("10"))
    assert get_platform("debian13").dovecot_syntax == "2.4"
    assert get_platform("rocky9").dovecot_syntax == "2.3"
    assert get_platform("centos7").dovecot_syntax == "2.2"
    assert get_platform("debian12").packages_dovecot == (
        "dovecot-core", "dovecot-imapd", "dovecot-pop3d")
    assert get_platform("rocky9").cert_dir == "/etc/pki/tls/certs"
    assert get_platform("debian12").smtpd_chroot and not get_platform("rocky9").smtpd_chroot
    assert get_platform("alma10").id == "almalinux10"
    assert get_platform("rocky9").with_versions(dovecot=(2, 4, 1)).dovecot_syntax == "2.4"
    with pytest.raises(PlatformError, match="unknown platform 'slackware'"):
        get_platform("slackware")


@pytest.mark.parametrize("pid, unit", [
    ("debian12", "postfix@-"), ("ubuntu22.04", "postfix@-"), ("ubuntu24.04", "postfix@-"),
    ("debian13", "postfix"), ("rocky9", "postfix"), ("centos7", "postfix"),
    ("almalinux10", "postfix"),
])
def test_postfix_unit_is_where_the_master_runs(pid: str, unit: str) -> None:
    assert get_platform(pid).postfix_unit == unit
    # the installed version decides, not the name: a Debian 12 with a backported 3.10
    assert get_platform("debian12").with_versions(postfix=(3, 10)).postfix_unit == "postfix"
