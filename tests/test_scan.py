"""How `make scan` reads the scanners' reports: what fails the build and what does not.

The scanners themselves run in `make scan` (CI); these tests pin the reading of their
outputs, with report shapes as wapiti 3.2.3, bandit 1.9.4, pip-audit 2.10.1 and
sqlmap 1.10.10 write them.
"""

from __future__ import annotations

import json

from security.scan import (
    Outcome,
    SqlmapTarget,
    parse_sqlmap,
    read_bandit,
    read_pip_audit,
    read_server_log,
    read_wapiti,
)


def _wapiti_finding(level: int, info: str) -> dict[str, object]:
    return {"method": "GET", "path": "/requests/", "info": info, "level": level, "parameter": "q"}


def test_wapiti_fails_from_medium_up_and_counts_the_rest() -> None:
    outcome = Outcome("wapiti")
    read_wapiti(
        {
            "vulnerabilities": {
                "Secure Flag cookie": [_wapiti_finding(1, "Secure flag is not set")],
                "Cross Site Scripting": [_wapiti_finding(3, "XSS vulnerability found via q")],
                "Content Security Policy Configuration": [],
            },
            "anomalies": {"Internal Server Error": [_wapiti_finding(3, "500 via q")]},
        },
        outcome,
    )
    assert outcome.counts["low"] == 1 and outcome.counts["high"] == 2
    assert outcome.counts["medium"] == 0 and outcome.counts["critical"] == 0
    assert outcome.counts["high: Cross Site Scripting"] == 1
    assert [failure.split(":")[0] for failure in outcome.failures] == [
        "high Cross Site Scripting",
        "high Internal Server Error",
    ]


def test_wapiti_low_findings_alone_pass() -> None:
    outcome = Outcome("wapiti")
    read_wapiti({"vulnerabilities": {"HttpOnly Flag cookie": [_wapiti_finding(1, "x")]}}, outcome)
    assert outcome.ok and outcome.counts["low"] == 1


def _bandit_issue(severity: str, confidence: str) -> dict[str, object]:
    return {
        "issue_severity": severity,
        "issue_confidence": confidence,
        "test_id": "B608",
        "filename": "portal/x.py",
        "line_number": 3,
        "issue_text": "Possible SQL injection",
    }


def test_bandit_fails_on_medium_severity_at_medium_confidence_only() -> None:
    outcome = Outcome("bandit")
    issues = [
        _bandit_issue("LOW", "HIGH"),
        _bandit_issue("MEDIUM", "LOW"),  # a guess: counted, not failed
        _bandit_issue("MEDIUM", "MEDIUM"),
        _bandit_issue("HIGH", "HIGH"),
    ]
    read_bandit({"results": issues, "errors": []}, outcome)
    assert outcome.counts == {"low": 1, "medium": 2, "high": 1}
    assert len(outcome.failures) == 2


def test_bandit_fails_when_it_could_not_read_a_file() -> None:
    outcome = Outcome("bandit")
    read_bandit({"results": [], "errors": [{"filename": "a.py", "reason": "syntax"}]}, outcome)
    assert not outcome.ok


AUDITED = {"name": "django", "version": "5.2.8", "vulns": []}
VULNERABLE = {
    "name": "django",
    "version": "5.2.0",
    "vulns": [{"id": "PYSEC-2025-1", "fix_versions": ["5.2.1"]}],
}
NOT_AUDITED = {
    "name": "a2wsgi",
    "version": "1.10.10",
    "skip_reason": "Dependency not found on PyPI and could not be audited",
}


def test_pip_audit_fails_on_a_known_vulnerability() -> None:
    outcome = Outcome("pip-audit")
    read_pip_audit({"dependencies": [AUDITED, VULNERABLE]}, outcome, unreachable="warn")
    assert outcome.failures == ["django 5.2.0: PYSEC-2025-1 (fixed in 5.2.1)"]


def test_pip_audit_that_could_not_ask_fails_unless_told_to_warn() -> None:
    """pip-audit itself says "No known vulnerabilities found" and exits 0 here."""
    strict, lenient = Outcome("pip-audit"), Outcome("pip-audit")
    read_pip_audit({"dependencies": [AUDITED, NOT_AUDITED]}, strict, unreachable="fail")
    read_pip_audit({"dependencies": [AUDITED, NOT_AUDITED]}, lenient, unreachable="warn")
    assert strict.failures and "1 of 2 packages NOT AUDITED" in strict.failures[0]
    assert lenient.ok and "NOT AUDITED" in lenient.notes[0]
    assert lenient.counts["not audited"] == 1 and lenient.counts["audited"] == 1


def test_pip_audit_with_nothing_listed_fails() -> None:
    outcome = Outcome("pip-audit")
    read_pip_audit({"dependencies": []}, outcome, unreachable="warn")
    assert not outcome.ok


TARGET = SqlmapTarget("pages-1", "/requests/?q=printer", api=False)
CLEAN = """\
[20:03:13] [INFO] testing for SQL injection on GET parameter 'q'
[20:03:20] [WARNING] GET parameter 'q' does not seem to be injectable
[20:03:20] [CRITICAL] all tested parameters do not appear to be injectable. Try to increase \
values for '--level'/'--risk' options if you wish to perform more tests.
"""
INJECTABLE = """\
[20:03:13] [INFO] testing for SQL injection on GET parameter 'q'
[20:03:15] [INFO] GET parameter 'q' appears to be 'AND boolean-based blind - WHERE or HAVING \
clause' injectable
[20:03:18] [INFO] GET parameter 'q' is 'Generic UNION query (NULL) - 1 to 10 columns' injectable
GET parameter 'q' is vulnerable. Do you want to keep testing the others (if any)? [y/N] N
sqlmap identified the following injection point(s) with a total of 46 HTTP(s) requests:
"""
UNFINISHED = """\
[20:03:13] [INFO] testing for SQL injection on GET parameter 'q'
[20:03:14] [CRITICAL] target URL content appears to be heavily dynamic. sqlmap is going to \
retry the request(s)
"""


def test_sqlmap_clean_run() -> None:
    findings, tested, problems = parse_sqlmap(TARGET, CLEAN)
    assert (findings, tested, problems) == ([], 1, [])


def test_sqlmap_injection_is_a_finding_though_its_exit_code_is_0() -> None:
    findings, tested, problems = parse_sqlmap(TARGET, INJECTABLE)
    assert len(findings) == 3 and tested == 1 and not problems


def test_sqlmap_that_did_not_finish_is_a_failure() -> None:
    findings, _, problems = parse_sqlmap(TARGET, UNFINISHED)
    assert not findings
    assert len(problems) == 2  # the critical message, and no closing verdict


def _log_line(**entry: object) -> str:
    return json.dumps({"time": "2026-11-25T21:04:10Z", **entry})


def test_malformed_sql_in_the_server_log_fails_though_the_answer_was_a_503() -> None:
    """The portal answers a database error with its 503 page; the scanners see no 500."""
    text = "\n".join(
        [
            "INFO:     Started server process [1]",
            _log_line(level="WARNING", message="Forbidden (CSRF token missing.): /i18n/setlang/"),
            _log_line(
                level="ERROR",
                message="Service Unavailable: /requests/new/",
                status_code=503,
                exception='django.db.utils.OperationalError: near "UNION": syntax error',
            ),
            _log_line(
                level="ERROR",
                message="Service Unavailable: /documents/",
                status_code=503,
                exception="django.db.utils.OperationalError: database is locked",
            ),
        ]
    )
    outcome = read_server_log(text)
    assert outcome.counts == {"errors": 2, "malformed SQL": 1, "500": 0}
    assert len(outcome.failures) == 1 and "/requests/new/" in outcome.failures[0]


def test_a_500_in_the_server_log_fails() -> None:
    outcome = read_server_log(
        _log_line(level="ERROR", message="Internal Server Error: /x/", status_code=500)
    )
    assert outcome.failures == ["server error: Internal Server Error: /x/"]
