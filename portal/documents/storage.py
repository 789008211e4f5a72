"""Where document files live: Django's storage ``documents`` (local files or S3)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.files import File
from django.core.files.storage import Storage, storages

PREFIX = "documents"
CHUNK_SIZE = 64 * 1024


def document_storage() -> Storage:
    return storages["documents"]


def new_key() -> str:
    """A random storage key: nothing of the user's file name, nothing guessable."""
    token = secrets.token_hex(20)
    return f"{PREFIX}/{token[:2]}/{token}"


def store(*, key: str, file: File[Any]) -> None:
    """Copy ``file`` to the storage under ``key``, in chunks (the storage reads it piecewise)."""
    file.seek(0)
    try:
        saved = document_storage().save(key, file)
    except BaseException:
        # A copy cut off midway leaves no partial file behind.
        _delete_quietly(key)
        raise
    if saved != key:  # a random key cannot be taken; if it were, do not keep the copy
        document_storage().delete(saved)
        raise RuntimeError("storage refused the generated key")


def _delete_quietly(key: str) -> None:
    try:
        document_storage().delete(key)
    except Exception:  # noqa: BLE001, S110 - the orphan sweep catches what is left
        pass


def read_chunks(key: str) -> Iterator[bytes]:
    with document_storage().open(key, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk


def delete(key: str) -> None:
    document_storage().delete(key)


def exists(key: str) -> bool:
    return document_storage().exists(key)


def all_keys() -> Iterator[str]:
    """Every file under the documents prefix (two levels: documents/ab/abcdef...)."""
    storage = document_storage()
    try:
        shards, _ = storage.listdir(PREFIX)
    except FileNotFoundError:
        return
    for shard in shards:
        _, files = storage.listdir(f"{PREFIX}/{shard}")
        for name in files:
            yield f"{PREFIX}/{shard}/{name}"


def modified_at(key: str) -> datetime:
    return document_storage().get_modified_time(key)
