"""docs/security.md stays true: each ASVS 5.0 level 2 requirement listed once, named tests real."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
STATUSES = {"met", "partly", "not yet", "n/a"}


def _ids(section: str, first: int, last: int) -> list[str]:
    return [f"{section}.{n}" for n in range(first, last + 1)]


# OWASP ASVS 5.0.0, the requirements of levels 1 and 2 (the CSV's column L is 1 or 2).
LEVEL_2 = [
    *_ids("V1.1", 1, 2), *_ids("V1.2", 1, 9), *_ids("V1.3", 1, 11), *_ids("V1.4", 1, 3),
    *_ids("V1.5", 1, 2),
    *_ids("V2.1", 1, 3), *_ids("V2.2", 1, 3), *_ids("V2.3", 1, 4), "V2.4.1",
    *_ids("V3.2", 1, 2), *_ids("V3.3", 1, 4), *_ids("V3.4", 1, 6), *_ids("V3.5", 1, 5),
    *_ids("V3.7", 1, 2),
    *_ids("V4.1", 1, 3), "V4.2.1", *_ids("V4.3", 1, 2), *_ids("V4.4", 1, 4),
    "V5.1.1", *_ids("V5.2", 1, 3), *_ids("V5.3", 1, 2), *_ids("V5.4", 1, 3),
    *_ids("V6.1", 1, 3), *_ids("V6.2", 1, 12), *_ids("V6.3", 1, 4), *_ids("V6.4", 1, 4),
    *_ids("V6.5", 1, 5), *_ids("V6.6", 1, 3), *_ids("V6.8", 1, 4),
    *_ids("V7.1", 1, 3), *_ids("V7.2", 1, 4), *_ids("V7.3", 1, 2), *_ids("V7.4", 1, 5),
    *_ids("V7.5", 1, 2), *_ids("V7.6", 1, 2),
    *_ids("V8.1", 1, 2), *_ids("V8.2", 1, 3), "V8.3.1", "V8.4.1",
    *_ids("V9.1", 1, 3), *_ids("V9.2", 1, 4),
    *_ids("V10.1", 1, 2), *_ids("V10.2", 1, 2), *_ids("V10.3", 1, 4), *_ids("V10.4", 1, 11),
    *_ids("V10.5", 1, 5), *_ids("V10.6", 1, 2), *_ids("V10.7", 1, 3),
    *_ids("V11.1", 1, 2), *_ids("V11.2", 1, 3), *_ids("V11.3", 1, 3), *_ids("V11.4", 1, 4),
    "V11.5.1", "V11.6.1",
    *_ids("V12.1", 1, 3), *_ids("V12.2", 1, 2), *_ids("V12.3", 1, 4),
    "V13.1.1", *_ids("V13.2", 1, 5), *_ids("V13.3", 1, 2), *_ids("V13.4", 1, 5),
    *_ids("V14.1", 1, 2), *_ids("V14.2", 1, 4), *_ids("V14.3", 1, 3),
    *_ids("V15.1", 1, 3), *_ids("V15.2", 1, 3), *_ids("V15.3", 1, 7),
    "V16.1.1", *_ids("V16.2", 1, 5), *_ids("V16.3", 1, 4), *_ids("V16.4", 1, 3),
    *_ids("V16.5", 1, 3),
    "V17.1.1", *_ids("V17.2", 1, 4), *_ids("V17.3", 1, 2),
]  # fmt: skip


def _rows() -> list[list[str]]:
    rows = []
    for line in DOC.read_text().splitlines():
        if re.match(r"^\| V\d+\.\d+\.\d+ \|", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_every_level_2_requirement_is_listed_once_with_a_status() -> None:
    assert len(LEVEL_2) == 253  # ASVS 5.0.0: 70 at level 1, 183 more at level 2
    rows = _rows()
    listed = Counter(row[0] for row in rows)
    assert not [i for i, n in listed.items() if n > 1], "listed twice"
    assert set(listed) == set(LEVEL_2), {
        "missing": sorted(set(LEVEL_2) - set(listed)),
        "not level 2": sorted(set(listed) - set(LEVEL_2)),
    }
    for row in rows:
        assert len(row) == 5, row[0]
        assert row[2] in STATUSES, row
        if row[2] == "n/a":
            assert row[3] not in {"", "—"}, f"{row[0]}: n/a needs a reason"


def test_the_summary_counts_match_the_rows() -> None:
    counts = Counter(row[2] for row in _rows())
    total = re.search(
        r"\| \*\*total\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* "
        r"\| \*\*(\d+)\*\* \|",
        DOC.read_text(),
    )
    assert total is not None
    expected = (
        sum(counts.values()),
        counts["met"],
        counts["partly"],
        counts["not yet"],
        counts["n/a"],
    )
    assert tuple(int(n) for n in total.groups()) == expected


def test_every_named_test_and_code_pointer_exists() -> None:
    """``path::test_name`` is a test function; ``path::Name`` a function or class there."""
    text = DOC.read_text()
    missing = []
    for path, name in set(re.findall(r"`([\w./-]+\.py)::(\w+)`", text)):
        source = ROOT / path
        definition = rf"^\s*((async )?def|class) {name}\b"
        if not source.is_file() or not re.search(definition, source.read_text(), re.M):
            missing.append(f"{path}::{name}")
    assert not missing, sorted(missing)


def test_every_named_test_file_exists_unless_it_is_still_landing() -> None:
    text = DOC.read_text()
    missing = []
    for match in re.finditer(r"`((?:tests|portal)/[\w./-]+)`(\s\(landing)?", text):
        path, landing = match.groups()
        if landing or "::" in path:
            continue
        if not (ROOT / path.rstrip("/")).exists():
            missing.append(path)
    assert not missing, sorted(missing)
