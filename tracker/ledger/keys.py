"""The platform's Ed25519 signing key: created on first use in <instance>/keys/, private file 0600."""
import base64
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

KEY_FILE = "ledger-ed25519.pem"
_cache, _lock = {}, threading.Lock()


def key_path(instance=None):
    return Path(instance or current_app.instance_path) / "keys" / KEY_FILE


def _create(path):
    """Write a new key without ever exposing a half-written file; if another process won the race, keep its key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # atomic; fails if the key exists
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def private_key(instance=None):
    path = key_path(instance)
    with _lock:
        key = _cache.get(path)
        if key is None:
            if not path.exists():
                _create(path)
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise RuntimeError(f"{path} is not an Ed25519 private key")
            _cache[path] = key
    return key


def public_key_bytes(instance=None):
    return private_key(instance).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(instance=None):
    return base64.b64encode(public_key_bytes(instance)).decode("ascii")


def sign(message: bytes, instance=None) -> str:
    """Base64 of the Ed25519 signature over `message`."""
    return base64.b64encode(private_key(instance).sign(message)).decode("ascii")


def existing_public_key_bytes(instance=None):
    """The instance's public key if it has one (verification must never create a key); None otherwise."""
    path = key_path(instance)
    if not path.exists():
        return None
    return public_key_bytes(instance)
