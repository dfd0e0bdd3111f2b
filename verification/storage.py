"""Encryption at rest for payment proofs: AES-256-GCM around whatever storage is configured.

Every stored object is ``MAGIC | len(key id) | key id | 12-byte nonce | ciphertext + tag``. The key
id inside the object says which key of the ring decrypts it, so a rotation (new key first in
``PROOF_ENCRYPTION_KEYS``) leaves every older proof readable without rewriting it. GCM's tag makes
any tampering or a wrong key fail loudly instead of returning garbage.
"""

import base64
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.deconstruct import deconstructible

MAGIC = b"GFP1"
_NONCE_BYTES = 12
DERIVED_KEY_ID = "sk0"


class NoPublicUrl(Exception):
    """Raised when something asks for a proof's URL: proofs are only served by the proof view."""


class ProofDecryptionError(Exception):
    """Stored proof bytes that no key of the ring opens (tampered, truncated or key missing)."""


@dataclass(frozen=True)
class KeyRing:
    active_id: str
    keys: dict[str, bytes]

    @classmethod
    def from_settings(cls) -> "KeyRing":
        entries: list[str] = list(getattr(settings, "PROOF_ENCRYPTION_KEYS", []) or [])
        if not entries:
            # A development default so a fresh clone works; production sets explicit keys.
            derived = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"gomflow proof key v1"
            ).derive(settings.SECRET_KEY.encode())
            return cls(active_id=DERIVED_KEY_ID, keys={DERIVED_KEY_ID: derived})
        keys: dict[str, bytes] = {}
        for entry in entries:
            key_id, separator, encoded = entry.partition(":")
            key_id = key_id.strip()
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except ValueError:
                key = b""
            if not separator or not key_id or len(key_id) > 32 or len(key) != 32:
                raise ImproperlyConfigured(
                    "Each PROOF_ENCRYPTION_KEYS entry is 'key-id:base64 of 32 random bytes'."
                )
            keys[key_id] = key
        return cls(active_id=entries[0].partition(":")[0].strip(), keys=keys)


def encrypt_bytes(plaintext: bytes, ring: KeyRing | None = None) -> bytes:
    """Encrypt with the ring's active key."""
    ring = ring or KeyRing.from_settings()
    key_id = ring.active_id.encode("ascii")
    header = MAGIC + bytes([len(key_id)]) + key_id
    nonce = os.urandom(_NONCE_BYTES)
    return header + nonce + AESGCM(ring.keys[ring.active_id]).encrypt(nonce, plaintext, header)


def decrypt_bytes(blob: bytes, ring: KeyRing | None = None) -> bytes:
    """Decrypt with whichever key of the ring the blob names."""
    ring = ring or KeyRing.from_settings()
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 1:
        raise ProofDecryptionError("not an encrypted proof")
    id_length = blob[len(MAGIC)]
    header_end = len(MAGIC) + 1 + id_length
    key_id = blob[len(MAGIC) + 1 : header_end].decode("ascii", errors="replace")
    if key_id not in ring.keys:
        raise ProofDecryptionError(f"key {key_id!r} is not in PROOF_ENCRYPTION_KEYS")
    nonce = blob[header_end : header_end + _NONCE_BYTES]
    try:
        return AESGCM(ring.keys[key_id]).decrypt(
            nonce, blob[header_end + _NONCE_BYTES :], blob[:header_end]
        )
    except InvalidTag as error:
        raise ProofDecryptionError("the proof's bytes do not authenticate") from error


def key_id_of(blob: bytes) -> str:
    """Return the id of the key that encrypted a stored blob."""
    id_length = blob[len(MAGIC)]
    return blob[len(MAGIC) + 1 : len(MAGIC) + 1 + id_length].decode("ascii", errors="replace")


def _inner_storage(location: str | None) -> Storage:
    if getattr(settings, "AWS_STORAGE_BUCKET_NAME", ""):
        from storages.backends.s3 import S3Storage

        options: dict[str, Any] = dict(settings.STORAGES["default"].get("OPTIONS", {}))
        options.update(
            location="proofs",
            default_acl="private",
            querystring_auth=True,
            file_overwrite=False,
            # S3's own encryption on top of ours: a leaked bucket copy is still ciphertext twice.
            object_parameters={"ServerSideEncryption": "AES256"},
        )
        return S3Storage(**options)
    # No base_url: proofs have no public URL at all; the proof view is the only way to read them.
    return FileSystemStorage(
        location=location or settings.PROOF_STORAGE_ROOT,
        base_url=None,
        file_permissions_mode=0o600,
        directory_permissions_mode=0o700,
    )


@deconstructible
class EncryptedStorage(Storage):
    """A storage that encrypts on save and decrypts on open, delegating bytes to an inner one."""

    def __init__(self, location: str | None = None) -> None:
        self.inner = _inner_storage(location)

    def _save(self, name: str, content: File) -> str:
        content.seek(0)
        return self.inner.save(name, ContentFile(encrypt_bytes(content.read())))

    def _open(self, name: str, mode: str = "rb") -> File:
        if "w" in mode or "a" in mode:
            raise ValueError("Proofs are written through save() only.")
        with self.inner.open(name, "rb") as stored:
            return ContentFile(decrypt_bytes(stored.read()), name=name)

    def read_raw(self, name: str) -> bytes:
        """Return the encrypted bytes as stored (for checks and re-encryption)."""
        with self.inner.open(name, "rb") as stored:
            return stored.read()

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def size(self, name: str) -> int:
        return self.inner.size(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self.inner.listdir(path)

    def path(self, name: str) -> str:
        return self.inner.path(name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self.inner.get_available_name(name, max_length=max_length)

    def url(self, name: str | None) -> str:
        raise NoPublicUrl("Proofs have no public URL; serve them through the proof view.")
