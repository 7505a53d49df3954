"""Personal data at rest: authenticated encryption (AES-256-GCM) with rotating keys from the
environment, and blind indexes to find a value (a phone) without decrypting every row.

Why this shape:
- AES-GCM authenticates: a changed byte, or a value copied from another field, fails to decrypt
  instead of yielding garbage. The caller's `context` (say "promoter.phone") is bound in as
  associated data, so a ciphertext moved into another column is refused.
- A token reads `pd1:<key id>:<base64url(nonce | ciphertext)>`. The key id is a fingerprint of
  the key (8 hex of a SHA-256, not the key), so decryption picks the right key at once and a
  token under a key nobody configured names that key id in its error.
- Keys are a list, newest first (`FENRUN_DATA_KEYS="new,old"`): new values use the newest;
  every listed key still decrypts. Rotation = put a new key first, re-encrypt (`rotate`), then
  drop the old key. See settlement/README.md, "Personal data".
- A blind index is an HMAC of the normalised value under a key derived (HKDF) from a data key:
  equal values give equal indexes, nothing else can be learned without the key. Lookups try the
  index under every configured key, so rows not yet rotated are still found.

Nothing here logs, and no error message carries a plaintext or a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from settlement.errors import SettlementError

TOKEN_PREFIX = "pd1"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per value (2^-32 collision bound at 2^32 values)
MAX_KEYS = 8  # a rotation needs two; more means old keys were never dropped
MAX_PLAINTEXT_BYTES = 16_384  # a name, a phone, a document list: never a file
MAX_CONTEXT_CHARS = 200
KEY_FILE_MODE = 0o600
_INDEX_INFO = b"fenrun personal data blind index v1"

log = logging.getLogger(__name__)


class DataKeyMissing(SettlementError):
    """No data key is configured where one is required (production, or an unreadable file)."""

    code = "data_key_missing"


class DataKeyInvalid(SettlementError):
    """A configured data key is malformed (not 32 bytes of url-safe base64) or badly stored."""

    code = "data_key_invalid"


class UndecryptableData(SettlementError):
    """A stored value does not decrypt: its key is not configured, or it was altered."""

    code = "undecryptable_data"


class DataKeySettings(BaseSettings):
    """Where the personal-data keys come from.

    `FENRUN_DATA_KEYS`: comma-separated keys, newest first (each `generate_key()`'s output).
    `FENRUN_DATA_KEY_FILE`: used when the variable is unset; the embedded default (SQLite books)
    generates it on first use, mode 0600, with a warning. Production sets the variable.
    """

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    data_keys: SecretStr | None = None
    data_key_file: Path = Field(default=Path(".fenrun/data.keys"))


def generate_key() -> str:
    """A new random key as text (url-safe base64 of 32 bytes), for FENRUN_DATA_KEYS."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"fenrun data key id\x00" + key).hexdigest()[:8]


def _decode_key(text: str, position: int, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != KEY_BYTES:
        # Never echo the key: it may be a real key with a typo.
        raise DataKeyInvalid(f"{source}: key #{position} is not {KEY_BYTES} bytes of url-safe "
                             "base64 (make one with `fenrun privacy keygen`)")
    return key


def parse_keys(text: str, source: str = "FENRUN_DATA_KEYS") -> list[bytes]:
    """Keys from their comma- or newline-separated text, newest first; raises on a bad one."""
    parts = [part for part in text.replace("\n", ",").split(",") if part.strip()]
    if not parts:
        raise DataKeyMissing(f"{source}: no key given")
    if len(parts) > MAX_KEYS:
        raise DataKeyInvalid(f"{source}: {len(parts)} keys, at most {MAX_KEYS}; drop keys "
                             "whose values were rotated (`fenrun privacy rotate`)")
    keys = [_decode_key(part, number, source) for number, part in enumerate(parts, start=1)]
    if len({_key_id(key) for key in keys}) != len(keys):
        raise DataKeyInvalid(f"{source}: the same key is listed twice")
    return keys


class DataCipher:
    """Encrypts, decrypts and indexes personal values with a fixed list of keys (newest first).

    Built once at an entry point (`load_cipher`) and passed down; holds no other state.
    """

    __slots__ = ("_keys", "_index_keys")

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise DataKeyMissing("no data key given")
        self._keys = {_key_id(key): AESGCM(key) for key in keys}
        self._index_keys = {_key_id(key): _index_key(key) for key in keys}
        if len(self._keys) != len(keys):
            raise DataKeyInvalid("the same data key is listed twice")

    def __repr__(self) -> str:
        return f"DataCipher(key_ids={self.key_ids})"

    @property
    def key_ids(self) -> list[str]:
        """The keys' fingerprints, newest first (safe to print)."""
        return list(self._keys)

    @property
    def current_key_id(self) -> str:
        return next(iter(self._keys))

    def encrypt(self, plaintext: str, context: str) -> str:
        """A token for `plaintext` under the newest key, bound to `context` (e.g. "payee.account",
        the field it is stored in): decrypting it under another context fails."""
        data = plaintext.encode("utf-8")
        if len(data) > MAX_PLAINTEXT_BYTES:
            raise ValueError(f"{context}: {len(data)} bytes, at most {MAX_PLAINTEXT_BYTES}")
        key_id = self.current_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[key_id].encrypt(nonce, data, _aad(context))
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{TOKEN_PREFIX}:{key_id}:{body}"

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext of a token made by `encrypt` with the same context."""
        key_id, blob = _split(token, context)
        aead = self._keys.get(key_id)
        if aead is None:
            raise UndecryptableData(
                f"{context}: encrypted with data key {key_id}, which is not configured "
                f"(configured: {', '.join(self.key_ids)}); keep old keys in FENRUN_DATA_KEYS "
                "until `fenrun privacy rotate` has re-encrypted everything")
        try:
            data = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(context))
        except InvalidTag:
            raise UndecryptableData(f"{context}: the stored value fails authentication under "
                                    f"data key {key_id}: it was altered or belongs to another "
                                    "field") from None
        return data.decode("utf-8")

    def is_current(self, token: str) -> bool:
        """Whether a token is under the newest key (rotation skips it)."""
        return token.startswith(f"{TOKEN_PREFIX}:{self.current_key_id}:")

    def rotate(self, token: str, context: str) -> str:
        """The token re-encrypted under the newest key (unchanged if it already is)."""
        if self.is_current(token):
            return token
        return self.encrypt(self.decrypt(token, context), context)

    def blind_index(self, value: str, context: str) -> str:
        """The index of a normalised value under the newest key: store it next to the token."""
        return self._index_under(self.current_key_id, value, context)

    def blind_indexes(self, value: str, context: str) -> list[str]:
        """The value's index under every configured key: search stored indexes with `IN`."""
        return [self._index_under(key_id, value, context) for key_id in self._index_keys]

    def _index_under(self, key_id: str, value: str, context: str) -> str:
        mac = hmac.new(self._index_keys[key_id], _aad(context) + b"\x00" + value.encode("utf-8"),
                       hashlib.sha256)
        return f"{key_id}:{mac.hexdigest()}"


def _aad(context: str) -> bytes:
    if not context or len(context) > MAX_CONTEXT_CHARS:
        raise ValueError(f"context: must be 1 to {MAX_CONTEXT_CHARS} characters")
    return context.encode("utf-8")


def _index_key(key: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INDEX_INFO)
    return hkdf.derive(key)


def _split(token: str, context: str) -> tuple[str, bytes]:
    parts = token.split(":") if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise UndecryptableData(f"{context}: the stored value is not an encrypted token "
                                f"({TOKEN_PREFIX}:<key id>:<data>)")
    try:
        blob = base64.urlsafe_b64decode(parts[2].encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        blob = b""
    if len(blob) <= NONCE_BYTES:
        raise UndecryptableData(f"{context}: the stored value's data is damaged")
    return parts[1], blob


def load_cipher(settings: DataKeySettings, *, embedded: bool) -> DataCipher:
    """The cipher of an entry point: keys from FENRUN_DATA_KEYS, else from the key file.

    `embedded` (SQLite books: the demo, tests, a laptop) may generate the key file when it is
    missing, with a warning that names the file (never the key); production (`embedded=False`)
    refuses to start without a key, since data encrypted under a throwaway key would be lost.
    """
    if settings.data_keys is not None:
        return DataCipher(parse_keys(settings.data_keys.get_secret_value()))
    path = settings.data_key_file
    if not path.exists():
        if not embedded:
            raise DataKeyMissing("FENRUN_DATA_KEYS is not set: personal data (phones, names, ID "
                                 "and account numbers) cannot be encrypted; make a key with "
                                 "`fenrun privacy keygen` and set it")
        _write_key_file(path, generate_key())
        log.warning("FENRUN_DATA_KEYS is not set: generated a personal-data key in %s "
                    "(mode 0600). Back it up: without it the personal data stored under it "
                    "cannot be read. Production sets FENRUN_DATA_KEYS.", path)
    return DataCipher(parse_keys(_read_key_file(path), f"data key file {path}"))


def _write_key_file(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once never overwrite each other's new key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")


def _read_key_file(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        raise DataKeyInvalid(f"data key file {path}: mode {mode:o} lets others read it; "
                             f"run `chmod 600 {path}`")
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise DataKeyMissing(f"data key file {path}: cannot read it ({type(error).__name__})") \
            from None


def is_embedded(database_url: str) -> bool:
    """Whether the books are the embedded default (SQLite), which may generate its own key."""
    return database_url.startswith("sqlite")
