"""The clamd scanner against a real clamd with a test signature database."""

from __future__ import annotations

import pytest

from portal.documents.scanners import Verdict
from portal.documents.scanners.clamd import ClamdScanner
from portal.documents.scanners.none import NoScanner
from tests.clamd import STREAM_MAX_BYTES, eicar

from . import samples


@pytest.fixture
def scanner(clamd_socket: str) -> ClamdScanner:
    return ClamdScanner(address=clamd_socket, timeout=10)


def test_a_clean_file_is_clean(scanner: ClamdScanner) -> None:
    assert scanner.ping()
    assert scanner.scan([samples.PDF]).verdict is Verdict.CLEAN


def test_eicar_plain_is_found(scanner: ClamdScanner) -> None:
    result = scanner.scan([eicar()])
    assert result.verdict is Verdict.INFECTED
    assert result.detail.startswith("Portal.Test.EICAR")


def test_eicar_zipped_is_found(scanner: ClamdScanner) -> None:
    archive = samples.zip_bytes({"readme.txt": b"hello", "nested/eicar.com": eicar()})
    assert scanner.scan([archive]).verdict is Verdict.INFECTED


def test_eicar_inside_other_data_is_found(scanner: ClamdScanner) -> None:
    data = b"A" * 100_000 + eicar() + b"B" * 100_000
    # Split across chunks too: the scanner sees one stream.
    assert scanner.scan([data[:100_030], data[100_030:]]).verdict is Verdict.INFECTED


def test_a_stream_over_clamds_limit_fails_never_passes(scanner: ClamdScanner) -> None:
    chunk = b"\0" * (1024 * 1024)
    result = scanner.scan(chunk for _ in range(STREAM_MAX_BYTES // len(chunk) + 2))
    assert result.verdict is Verdict.FAILED


def test_an_unreachable_clamd_fails(tmp_path: object) -> None:
    result = ClamdScanner(address="/nonexistent/clamd.sock", timeout=1).scan([b"x"])
    assert result.verdict is Verdict.FAILED
    assert "not reachable" in result.detail


def test_no_scanner_scans_nothing() -> None:
    assert NoScanner().scan([eicar()]).verdict is Verdict.NOT_SCANNED
