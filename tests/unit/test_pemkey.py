"""A private key's text is parsed once per process, and an RSA key's full check is done once
per key text: later runs skip it only for the very bytes that passed it under the lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wizard import pemkey


def _pem(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[List[Dict[str, Any]]]:
    """Every load_pem_private_key call's keyword arguments."""
    pemkey.reset()
    seen: List[Dict[str, Any]] = []
    real = serialization.load_pem_private_key

    def spy(data: bytes, password: Any = None, **kw: Any) -> Any:
        seen.append(kw)
        return real(data, password, **kw)

    monkeypatch.setattr(serialization, "load_pem_private_key", spy)
    yield seen
    pemkey.reset()


def test_one_parse_per_text_and_process(rsa_pem: bytes, calls: List[Dict[str, Any]]) -> None:
    a = pemkey.load_private_key(rsa_pem)
    b = pemkey.load_private_key(bytearray(rsa_pem))
    assert a is b and calls == [{}]  # the full check, once


def test_a_checked_text_is_loaded_without_the_check_by_later_runs(
        rsa_pem: bytes, calls: List[Dict[str, Any]], tmp_path: Path) -> None:
    pemkey.use_state_dir(tmp_path, writable=True)
    pemkey.load_private_key(rsa_pem)
    store = tmp_path / pemkey.STORE_NAME
    assert store.stat().st_mode & 0o777 == 0o600
    assert len(store.read_text().split()) == 1
    pemkey.reset()  # a later process, plan (read only)
    pemkey.use_state_dir(tmp_path)
    pemkey.load_private_key(rsa_pem)
    assert calls == [{}, {"unsafe_skip_rsa_key_validation": True}]


def test_other_bytes_get_the_full_check(rsa_pem: bytes, calls: List[Dict[str, Any]],
                                        tmp_path: Path) -> None:
    pemkey.use_state_dir(tmp_path, writable=True)
    pemkey.load_private_key(rsa_pem)
    pemkey.reset()
    pemkey.use_state_dir(tmp_path)
    other = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    pemkey.load_private_key(other)
    pemkey.load_private_key(rsa_pem.replace(b"-----\n", b"-----\r\n", 1))
    assert calls[1:] == [{}, {}]


def test_an_unlocked_run_records_nothing(rsa_pem: bytes, calls: List[Dict[str, Any]],
                                         tmp_path: Path) -> None:
    pemkey.use_state_dir(tmp_path)  # plan: reads the session unlocked
    pemkey.load_private_key(rsa_pem)
    assert not (tmp_path / pemkey.STORE_NAME).exists()


def test_an_inconsistent_rsa_key_is_still_refused(calls: List[Dict[str, Any]],
                                                  tmp_path: Path) -> None:
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    bad = rsa.RSAPrivateNumbers(good.p, good.q, good.d, good.dmp1 + 2, good.dmq1, good.iqmp,
                                good.public_numbers)
    text = _pem(bad.private_key(unsafe_skip_rsa_key_validation=True))
    (tmp_path / pemkey.STORE_NAME).write_text("zz\n" + "0" * 64 + "\n")  # noise: ignored
    pemkey.use_state_dir(tmp_path, writable=True)
    with pytest.raises(ValueError):
        pemkey.load_private_key(text)
    assert len((tmp_path / pemkey.STORE_NAME).read_text().split()) == 2  # not recorded
