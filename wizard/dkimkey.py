"""DKIM key facts shared by the DKIM step, the DNS records and the tests: where OpenDKIM's
private key lives, the name of the ``TXT`` record and its value.

Core module: no recipes, no Textual. The record value follows RFC 6376 section 3.6.1:
``v=DKIM1; k=rsa; p=`` and the base64 DER SubjectPublicKeyInfo of the key.
"""

from __future__ import annotations

import base64
import functools
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:  # imported where a key is made or read (the TUI's first screen needs none)
    from cryptography.hazmat.primitives.asymmetric import rsa

KEY_DIR = "/etc/opendkim/keys"
"""Where the private keys live (one file per selector), owned by the opendkim user."""

def key_path(selector: str) -> str:
    """The private key of ``selector``: ``/etc/opendkim/keys/<selector>.private``."""
    return f"{KEY_DIR}/{selector}.private"


def txt_name(selector: str, domain: str) -> str:
    """The DNS name the public key is published under: ``<selector>._domainkey.<domain>``."""
    return f"{selector}._domainkey.{domain.rstrip('.')}"


def txt_value(public_key: Union[rsa.RSAPublicKey, rsa.RSAPrivateKey]) -> str:
    """The ``TXT`` record's text: ``v=DKIM1; k=rsa; p=<base64 DER SubjectPublicKeyInfo>``.

    A private key is accepted too (its public half is used)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if isinstance(public_key, rsa.RSAPrivateKey):
        public_key = public_key.public_key()
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")


def public_key_from_pem(data: bytes) -> rsa.RSAPublicKey:
    """The RSA public key in PEM ``data``: a private key (PKCS#8 or traditional) or a public
    key. Raises ValueError when it is neither or not RSA.

    Parsed once per key text and process: loading an RSA private key checks it (tens of
    milliseconds), and a run asks for the same DKIM key in its plan, changes and checks."""
    return _public_key(bytes(data))


@functools.lru_cache(maxsize=8)
def _public_key(data: bytes) -> rsa.RSAPublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .pemkey import load_private_key

    key: object
    if b"PRIVATE KEY" in data:
        key = load_private_key(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA key (OpenDKIM's keys here are RSA)")
    return key


def generate_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A new RSA signing key (2048 bits: what the large providers accept and what fits a
    single DNS TXT string set)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    """``key`` as unencrypted PKCS#8 PEM (what OpenDKIM reads)."""
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")
