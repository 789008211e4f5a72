"""Documents under test: files in a temporary directory (the root conftest), no scanner
unless a test asks for clamd (a real one, started once per session) or S3 (moto_server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clamd import clamd_server
from tests.s3 import moto_s3_server


@pytest.fixture(scope="session")
def clamd_socket() -> Iterator[str]:
    with clamd_server() as path:
        yield path


@pytest.fixture
def clamd(settings: Any, clamd_socket: str) -> str:
    settings.PORTAL_SCANNER = {
        "BACKEND": "portal.documents.scanners.clamd.ClamdScanner",
        "OPTIONS": {"address": clamd_socket, "timeout": 10},
    }
    settings.PORTAL_CLAMD_SOCKET = clamd_socket
    return clamd_socket


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def storage_backend(request: pytest.FixtureRequest, settings: Any, document_root: Path) -> str:
    """The same tests against local files and against an S3 server."""
    if request.param == "s3":
        import boto3

        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"portal-test-{uuid.uuid4().hex[:16]}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - moto accepts anything
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=bucket)
        settings.STORAGES = {
            **settings.STORAGES,
            "documents": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": bucket,
                    "endpoint_url": endpoint,
                    "region_name": "us-east-1",
                    "access_key": "test",
                    "secret_key": "test",
                    "addressing_style": "path",
                    "signature_version": "s3v4",
                    "default_acl": None,
                    "file_overwrite": False,
                },
            },
        }
    return str(request.param)


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any) -> Any:
    """``with commit(): ...`` runs the block's on-commit callbacks (tasks, live wake-ups)
    at its end, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
