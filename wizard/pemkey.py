"""Private keys from PEM text, each text parsed, and an RSA key's consistency checked, once.

``cryptography`` checks an RSA private key when it loads it (its primes and CRT values: 20-25
ms for 2,048 bits), and a run reads the TLS key and the DKIM key in its plan, in its changes
and in its checks; every later run reads them again. The outcome depends on the key's bytes
only, so:

* within a process each key text is parsed once (kept by its SHA-256);
* when a key text passes the full check in a run that holds the session lock, its SHA-256 is
  added to ``checked-keys`` in the state directory (0600, next to the session); a later run,
  ``plan`` included, loads that very text without repeating the check. Any other text (a new
  or replaced key, one byte changed) is checked in full.

Core module: no recipes, no Textual; ``cryptography`` is imported on the first key.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Dict, Optional, Set

STORE_NAME = "checked-keys"
"""File in the state directory: one SHA-256 (hex) of a checked key text per line."""

_DIGEST = re.compile(r"[0-9a-f]{64}")

_loaded: Dict[str, Any] = {}
_checked: Set[str] = set()
_store: Optional[Path] = None
_writable = False


def use_state_dir(state_dir: Optional[Path], writable: bool = False) -> None:
    """Read the digests of checked keys from ``state_dir`` (None: forget them); with
    ``writable`` (the caller holds the session lock), add the keys this process checks."""
    global _store, _writable
    _checked.clear()
    _store, _writable = None, False
    if state_dir is None:
        return
    _store, _writable = Path(state_dir) / STORE_NAME, writable
    try:
        text = _store.read_text(encoding="ascii", errors="replace")
    except OSError:
        return
    _checked.update(line for line in text.split("\n") if _DIGEST.fullmatch(line))


def reset() -> None:
    """Forget every key and digest of this process (tests)."""
    _loaded.clear()
    use_state_dir(None)


def load_private_key(data: bytes) -> Any:
    """The private key in PEM ``data`` (no passphrase): TypeError when it has one, ValueError
    when it is not a private key or fails the check -- as ``load_pem_private_key``."""
    data = bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    key = _loaded.get(digest)
    if key is not None:
        return key
    from cryptography.hazmat.primitives import serialization

    if digest in _checked:
        key = serialization.load_pem_private_key(data, password=None,
                                                 unsafe_skip_rsa_key_validation=True)
    else:
        key = serialization.load_pem_private_key(data, password=None)
        _remember(digest)
    _loaded[digest] = key
    return key


def _remember(digest: str) -> None:
    _checked.add(digest)
    if _store is None or not _writable:
        return
    try:
        fd = os.open(str(_store), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, digest.encode("ascii") + b"\n")
        finally:
            os.close(fd)
    except OSError:
        pass  # not recorded: the next run checks the key again


__all__ = ["STORE_NAME", "load_private_key", "reset", "use_state_dir"]
