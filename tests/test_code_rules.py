"""Rules the code keeps, checked by reading it: no unescaped user data in HTML."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Every place that marks text safe, and why that text cannot carry user markup.
JUSTIFIED_SAFE = {
    "portal/content/models.py": "content HTML was sanitised by nh3 when the page was synced",
    "portal/content/search/__init__.py": "snippets are escaped first; only <mark> is added",
}
# Plain-text e-mail templates turn autoescaping off: they are never HTML.
PLAIN_TEXT_SUFFIX = ".txt"


def _sources(*suffixes: str) -> list[Path]:
    return [
        path
        for path in (ROOT / "portal").rglob("*")
        if path.suffix in suffixes and "/tests/" not in str(path) and "migrations" not in path.parts
    ]


def test_nothing_is_marked_safe_without_a_reason() -> None:
    found = []
    for path in _sources(".py"):
        text = path.read_text()
        if re.search(r"\bmark_safe\(|\bSafeString\(", text):
            found.append(str(path.relative_to(ROOT)))
    unexplained = sorted(set(found) - set(JUSTIFIED_SAFE))
    assert not unexplained, f"mark_safe/SafeString in {unexplained}: escape instead, or justify"


def test_templates_never_use_the_safe_filter_or_turn_escaping_off_in_html() -> None:
    offenders = []
    for path in _sources(".html", ".txt"):
        text = path.read_text()
        if re.search(r"\|\s*safe(seq)?\b", text):
            offenders.append(f"{path.relative_to(ROOT)}: |safe or |safeseq")
        if "autoescape off" in text and path.suffix != PLAIN_TEXT_SUFFIX:
            offenders.append(f"{path.relative_to(ROOT)}: autoescape off in HTML")
    assert not offenders, offenders


def test_nothing_claims_to_be_html_already() -> None:
    """An ``__html__`` method makes templates skip escaping an object: same rule as mark_safe."""
    found = [
        str(path.relative_to(ROOT))
        for path in _sources(".py")
        if re.search(r"def __html__\(|\bSafeData\b|\bhtml_safe\b", path.read_text())
    ]
    assert not sorted(set(found) - set(JUSTIFIED_SAFE)), found


def test_format_html_is_used_with_placeholders_only() -> None:
    """format_html escapes its arguments; building its format string from data would not."""
    offenders = []
    for path in _sources(".py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "format_html(" in line and re.search(r"format_html\(\s*f[\"']", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert not offenders, offenders
