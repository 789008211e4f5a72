"""Security scanners against the code, the dependencies and a live portal with demo data.

    .venv/bin/python security/scan.py            # all four: bandit, pip-audit, wapiti, sqlmap
    .venv/bin/python security/scan.py --only wapiti,sqlmap

Each scanner has its own virtual environment under var/scan/venvs/ (pinned below; wapiti
pins old libraries that clash with the portal's). The live stages start the portal as
`make run` does (migrate, content sync, load_demo, serve) on a free loopback port with a
fresh data directory, sign in through the sign-in form as a demo user, and create a
personal access token for the API.

The exit code is 1 when any scanner reports a finding of medium severity or above, or
when a scanner could not do its work (a page it should test answered a sign-in redirect,
the vulnerability service was unreachable, a tool crashed): nothing passes silently.
Reports land in var/scan/reports/.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import venv
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "scan"
VENVS = Path(os.environ.get("PORTAL_SCAN_VENVS", VAR / "venvs"))
REPORTS = VAR / "reports"
PYTHON = sys.executable

# One virtual environment per scanner, each with one pinned requirement.
TOOLS = {
    "bandit": "bandit==1.9.4",
    "pip-audit": "pip-audit==2.10.1",
    "wapiti": "wapiti3==3.2.3",
    "sqlmap": "sqlmap==1.10.10",
}

# sqlmap signs in as Acme Ltd's admin (session and token); wapiti as Jane Doe, the admin of
# another customer, so that what wapiti's attacks submit (requests, comments, settings)
# does not change the lists sqlmap compares answers of.
SQLMAP_USER = "admin@acme.example"
SQLMAP_CUSTOMER = "C-900001"
WAPITI_USER = "jane@example.org"

# wapiti: the modules issue #11 names. Others either call services outside this machine
# (ssrf, wapp, nikto, ssl) or brute-force paths (buster, backup): out of scope here.
WAPITI_MODULES = "xss,sql,exec,file,redirect,csp,http_headers,cookieflags,csrf,crlf"
# Pages the crawler must not open or submit: signing out or changing the scan user's
# password, e-mail, sessions, second factor or memberships would end or shrink the
# signed-in scan; the live stream never ends. Each is covered by the portal's tests.
WAPITI_EXCLUDE = (
    "/accounts/logout/*",
    "/accounts/password/*",
    "/accounts/email/*",
    "/accounts/sessions/*",
    "/accounts/2fa/*",
    "/accounts/reauthenticate/*",
    "/accounts/privacy/delete/*",
    "/accounts/tokens/*/revoke/*",
    "/customer/members/*/remove/*",
    "/customer/members/*/role/*",
    "/customer/switch/*",
    "/customer/security/*",  # "require a second factor" would send the scan user to set one up
    "/live/*",
    "/backoffice/*",
)

# sqlmap: the main filters and searches of the pages (session cookie) and of the API
# (personal access token). Every parameter in these URLs is tested; the values match
# demo data, so the answer without injection is a non-empty list. {since} and {until}
# are a window around today, {customer} the demo customer's id.
SQLMAP_PAGES = (
    "/requests/?q=printer&status=open&type=report-a-fault&submitted_from={since}"
    "&submitted_to={until}",
    "/requests/new/?q=fault",
    "/documents/?q=contract&category=contracts&since={since}&until={until}&sort=title",
    "/documents/?request=SR-2026-000001",
    "/pages/search/?q=invoice",
    "/pages/suggest/?q=invo",
    "/billing/invoices/?status=open",
)
SQLMAP_API = (
    "/api/v1/service-requests?status=open&customer_id={customer}",
    "/api/v1/request-types?search=fault",
    "/api/v1/documents?search=contract&category=contracts&since={since}&until={until}"
    "&sort=title&customer_id={customer}",
    "/api/v1/documents?request_reference=SR-2026-000001",
    "/api/v1/invoices?status=open&customer_id={customer}",
    "/api/v1/pages/search?q=invoice&limit=5",
    "/api/v1/notifications?unread=true",
)
SQLMAP_PARALLEL = 3  # sqlmap processes at once, beside wapiti


@dataclass
class Outcome:
    """What one scanner found: counts by severity, the findings that fail the build."""

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


# --- environments ------------------------------------------------------------------


def tool_bin(tool: str, program: str) -> Path:
    return VENVS / tool / "bin" / program


def ensure_venv(tool: str) -> None:
    """Create var/scan/venvs/<tool> with exactly its pinned requirement (once)."""
    requirement = TOOLS[tool]
    target = VENVS / tool
    stamp = target / ".pinned"
    if stamp.exists() and stamp.read_text() == requirement:
        return
    shutil.rmtree(target, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    run(
        [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement],
        check=True,
        timeout=600,
    )
    stamp.write_text(requirement)


def run(
    argv: Sequence[str],
    *,
    check: bool = False,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - our own tools, fixed arguments
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:3])}… exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


# --- static scanners ---------------------------------------------------------------

SEVERITIES = ("LOW", "MEDIUM", "HIGH")


def scan_bandit() -> Outcome:
    """bandit on portal/ without tests and migrations: medium+ severity at medium+ confidence fails.

    Lines that bandit flags wrongly carry ``# nosec <test id>`` with the reason beside it.
    """
    outcome = Outcome("bandit")
    report = REPORTS / "bandit.json"
    result = run(
        [
            str(tool_bin("bandit", "bandit")),
            "-r",
            "portal",
            "-x",
            "*/tests/*,*/migrations/*",
            "-f",
            "json",
            "-o",
            str(report),
            "-q",
        ]  # fmt: skip
    )
    if not report.exists():
        outcome.failures.append(
            f"bandit wrote no report (exit {result.returncode}): {result.stderr}"
        )
        return outcome
    data = json.loads(report.read_text())
    read_bandit(data, outcome)
    totals = data["metrics"]["_totals"]
    outcome.notes.append(
        f"{totals['loc']} lines scanned, "
        f"{int(totals.get('skipped_tests', 0))} findings waived by # nosec <test id>"
    )
    return outcome


def read_bandit(data: dict[str, Any], outcome: Outcome) -> None:
    """Counts by severity; a failure for each medium+ severity at medium+ confidence."""
    outcome.failures += [
        f"bandit could not scan {error['filename']}: {error['reason']}"
        for error in data.get("errors", [])
    ]
    counts = collections.Counter(r["issue_severity"] for r in data["results"])
    outcome.counts = {level.lower(): counts.get(level, 0) for level in SEVERITIES}
    for issue in data["results"]:
        if issue["issue_severity"] in {"MEDIUM", "HIGH"} and issue["issue_confidence"] in {
            "MEDIUM",
            "HIGH",
        }:
            outcome.failures.append(
                f"{issue['test_id']} {issue['issue_severity'].lower()} "
                f"{issue['filename']}:{issue['line_number']}: {issue['issue_text']}"
            )


def scan_pip_audit(*, unreachable: str) -> Outcome:
    """pip-audit on every package installed in the portal's .venv (its effective lock).

    pip-audit asks the package registry's vulnerability service about each name and
    version. When it cannot (the service is unreachable or does not know the release),
    pip-audit itself says "No known vulnerabilities found" and exits 0; here every such
    package counts as not audited, and that fails unless ``unreachable`` is "warn".
    """
    outcome = Outcome("pip-audit")
    frozen = run([PYTHON, "-m", "pip", "freeze", "--exclude-editable"], check=True).stdout
    requirements = REPORTS / "requirements-frozen.txt"
    requirements.write_text(frozen)
    report = REPORTS / "pip-audit.json"
    result = run(
        [
            str(tool_bin("pip-audit", "pip-audit")),
            "--requirement", str(requirements),
            "--no-deps", "--disable-pip",  # the versions are pinned: nothing to resolve
            "--progress-spinner", "off",
            "--format", "json", "--output", str(report),
        ],
        timeout=300,
    )  # fmt: skip
    if not report.exists() or not report.read_text().strip():
        outcome.failures.append(
            f"pip-audit wrote no report (exit {result.returncode}): {result.stderr[-2000:]}"
        )
        return outcome
    read_pip_audit(json.loads(report.read_text()), outcome, unreachable=unreachable)
    return outcome


def read_pip_audit(data: dict[str, Any], outcome: Outcome, *, unreachable: str) -> None:
    """A failure per known vulnerability, and for packages it could not audit."""
    dependencies = data.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    outcome.counts = {
        "packages": len(dependencies),
        "audited": len(dependencies) - len(skipped),
        "vulnerable": len(vulnerable),
        "not audited": len(skipped),
    }
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none yet"
            outcome.failures.append(
                f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixes})"
            )
    if skipped:
        message = (
            f"{len(skipped)} of {len(dependencies)} packages NOT AUDITED: the vulnerability "
            f"service did not answer for them (first: {skipped[0]['name']}: "
            f"{skipped[0]['skip_reason']})"
        )
        if unreachable == "warn":
            outcome.notes.append("WARNING " + message)
        else:
            outcome.failures.append(message)
    if not dependencies:
        outcome.failures.append("pip-audit listed no packages at all")


# --- the live portal ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Portal:
    url: str
    cookies: dict[str, str]  # SQLMAP_USER's session
    token: str  # SQLMAP_USER's personal access token for SQLMAP_CUSTOMER
    customer_id: int
    wapiti_cookies: dict[str, str]  # WAPITI_USER's session

    @property
    def cookie_header(self) -> str:
        return cookie_header(self.cookies)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def portal_env(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PORTAL_", "DATABASE_", "REDIS_", "DJANGO_", "STRIPE_"))
    }
    env.update(
        PORTAL_DATA_DIR=str(data_dir),
        PORTAL_LOG_LEVEL="WARNING",
        PORTAL_LOCALSTRIPE_PORT="0",  # any free port
        # The scanners send thousands of requests a minute with one token and one address;
        # the API's rate limits would answer 429 and hide what is behind them.
        PORTAL_API_RATE_LIMIT="1000000/m",
        PORTAL_API_RATE_LIMIT_IP="1000000/m",
        PYTHONPATH=str(ROOT),
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    return run([PYTHON, "manage.py", *args], env=env, check=True, timeout=300).stdout


@contextmanager
def live_portal() -> Iterator[Portal]:
    data_dir = VAR / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    env = portal_env(data_dir)
    token, customer_id = prepare(env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (REPORTS / "server.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
        [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole below
    )
    try:
        wait_ready(url, server)
        yield Portal(
            url=url,
            cookies=sign_in(url, SQLMAP_USER),
            token=token,
            customer_id=customer_id,
            wapiti_cookies=sign_in(url, WAPITI_USER),
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
        log.close()


def wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"the portal exited with {server.returncode}; see var/scan/reports/server.log"
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


def sign_in(url: str, email: str) -> dict[str, str]:
    """Sign in through the real form (CSRF token and all) and return the session cookies."""
    password = os.environ.get("PORTAL_DEMO_PASSWORD") or "portal-demo-2026"
    with httpx.Client(base_url=url, timeout=10) as client:
        form = client.get("/accounts/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        if form.status_code != 200 or match is None:
            raise RuntimeError(f"the sign-in form answered {form.status_code} without a CSRF token")
        answer = client.post(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": match[1], "login": email, "password": password},
            headers={"Referer": f"{url}/accounts/login/"},
        )
        if answer.status_code != 302 or "sessionid" not in client.cookies:
            raise RuntimeError(f"signing in as {email} failed: {answer.status_code}")
        cookies = {name: client.cookies[name] for name in ("sessionid", "csrftoken")}
    check_signed_in(url, cookies)
    return cookies


def check_signed_in(url: str, cookies: dict[str, str]) -> None:
    answer = httpx.get(f"{url}/dashboard/", cookies=cookies, timeout=10)
    if answer.status_code != 200:
        where = answer.headers.get("location", "")
        raise RuntimeError(f"the dashboard answers {answer.status_code} {where}".strip())


def prepare(env: dict[str, str]) -> tuple[str, int]:
    """As `make run` does, in one process: the database, help pages, demo data, static
    files; then a read-only personal access token of SQLMAP_USER for the API."""
    code = f"""
import json
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("content", "sync", verbosity=0)
call_command("load_demo", verbosity=0)
call_command("collectstatic", interactive=False, verbosity=0)
from portal.accounts.models import User
from portal.customers.models import Customer
from portal.tokens.models import TokenScope
from portal.tokens.services import token_create
customer = Customer.objects.get(number={SQLMAP_CUSTOMER!r})
token, secret = token_create(
    user=User.objects.get(email={SQLMAP_USER!r}), customer=customer, name="security scan",
    scope=TokenScope.READ, expires_in_days=1,
)
print(json.dumps({{"secret": secret, "customer_id": customer.pk}}))
"""
    data = json.loads(manage(env, "shell", "--no-imports", "-c", code).strip().splitlines()[-1])
    return str(data["secret"]), int(data["customer_id"])


# --- wapiti ------------------------------------------------------------------------

WAPITI_LEVELS = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}


def scan_wapiti(portal: Portal, *, scan_time: int, attack_time: int) -> Outcome:
    outcome = Outcome("wapiti")
    work = VAR / "wapiti"
    shutil.rmtree(work, ignore_errors=True)
    (work / "config").mkdir(parents=True)
    report = REPORTS / "wapiti.json"
    report.unlink(missing_ok=True)
    argv = [
        str(tool_bin("wapiti", "wapiti")),
        "--url", f"{portal.url}/",
        "--scope", "folder",  # this address and port only (not localstripe beside it)
        "--module", WAPITI_MODULES,
        "--cookie-value", cookie_header(portal.wapiti_cookies),
        "--depth", "6",
        "--max-links-per-page", "60",
        "--max-files-per-dir", "40",
        "--max-scan-time", str(scan_time),
        "--max-attack-time", str(attack_time),
        "--tasks", "4",
        "--timeout", "15",
        "--flush-session",
        "--store-session", str(work / "session"),
        "--store-config", str(work / "config"),
        "--format", "json", "--output", str(report),
        "--detailed-report", "1",
        "--no-bugreport",
        "--verbose", "0",
    ]  # fmt: skip
    # A page may be crawled with any query string: exclude the path and everything under it.
    for pattern in WAPITI_EXCLUDE:
        argv += ["--exclude", f"{portal.url}{pattern}"]
        argv += ["--exclude", f"{portal.url}{pattern.removesuffix('*')}"]
    result = run(argv, timeout=scan_time + 10 * attack_time + 90)
    log = result.stdout + result.stderr
    if not report.exists() and "database is locked" in log:
        # wapiti 3.2.3 sometimes trips over its own session database when a module's
        # time is up on a busy machine. Once: resume from that session, without crawling
        # again; the modules skip the requests they had attacked.
        outcome.notes.append("wapiti's session database was locked: resumed once")
        resume = [arg for arg in argv if arg != "--flush-session"] + ["--skip-crawl"]
        result = run(resume, timeout=10 * attack_time + 90)
        log += "\n\n=== resumed ===\n" + result.stdout + result.stderr
    (REPORTS / "wapiti.log").write_text(log)
    if not report.exists():
        outcome.failures.append(f"wapiti wrote no report (exit {result.returncode})")
        return outcome
    data = json.loads(report.read_text())
    read_wapiti(data, outcome)
    infos = data.get("infos", {})
    crawled = int(infos.get("crawled_pages_nbr", 0))
    outcome.notes.append(f"{crawled} pages and forms crawled as {WAPITI_USER}")
    outcome.notes.append("attacked per module: " + wapiti_coverage(work / "session"))
    # The scan is worth something only if it ran signed in, all the way through.
    if crawled < 30:
        outcome.failures.append(f"wapiti crawled only {crawled} resources: it did not get in")
    try:
        check_signed_in(portal.url, portal.wapiti_cookies)
    except RuntimeError as error:
        outcome.failures.append(f"{WAPITI_USER} lost the session during the scan: {error}")
    if result.returncode != 0:
        outcome.failures.append(f"wapiti exited {result.returncode}: {result.stderr[-1500:]}")
    return outcome


def read_wapiti(data: dict[str, Any], outcome: Outcome) -> None:
    """Counts by level and category; a failure for each finding or anomaly at level 2+."""
    counts: collections.Counter[str] = collections.Counter()
    for section in ("vulnerabilities", "anomalies"):
        for category, findings in data.get(section, {}).items():
            for finding in findings:
                level = WAPITI_LEVELS.get(int(finding["level"]), str(finding["level"]))
                counts[level] += 1
                counts[f"{level}: {category}"] += 1
                if int(finding["level"]) >= 2:
                    outcome.failures.append(
                        f"{level} {category}: {finding['method']} {finding['path']}"
                        f" {finding.get('parameter') or ''} — {finding['info']}"
                    )
    outcome.counts = {name: counts.get(name, 0) for name in WAPITI_LEVELS.values()}
    outcome.counts |= {name: n for name, n in sorted(counts.items()) if ":" in name}


def wapiti_coverage(session: Path) -> str:
    """How many crawled requests each module attacked before its time was up."""
    databases = list(session.glob("*.db"))
    if not databases:
        return "unknown (no session database)"
    with closing(sqlite3.connect(databases[0])) as db:
        crawled = db.execute("SELECT count(*) FROM paths WHERE NOT evil").fetchone()[0]
        rows = db.execute(
            "SELECT module, count(DISTINCT path_id) FROM attack_logs"
            " GROUP BY module ORDER BY module"
        ).fetchall()
    return ", ".join(f"{module} {count}/{crawled}" for module, count in rows) or "none"


# --- sqlmap ------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlmapTarget:
    name: str  # pages-3, api-1, …: names its log in var/scan/reports/sqlmap/
    path: str
    api: bool


def sqlmap_targets(portal: Portal) -> list[SqlmapTarget]:
    today = dt.datetime.now(dt.UTC).date()
    values = {
        "since": (today - dt.timedelta(days=90)).isoformat(),
        "until": (today + dt.timedelta(days=1)).isoformat(),
        "customer": portal.customer_id,
    }
    return [
        SqlmapTarget(f"{kind}-{number}", path.format(**values), kind == "api")
        for kind, paths in (("pages", SQLMAP_PAGES), ("api", SQLMAP_API))
        for number, path in enumerate(paths, start=1)
    ]


def check_target(portal: Portal, target: SqlmapTarget) -> str | None:
    """A target must answer 200 and list something, else sqlmap would test a redirect."""
    if target.api:
        answer = httpx.get(
            portal.url + target.path,
            headers={"Authorization": f"Bearer {portal.token}"},
            timeout=15,
        )
        empty = answer.status_code == 200 and not _api_lists_something(answer.json())
    else:
        answer = httpx.get(portal.url + target.path, cookies=portal.cookies, timeout=15)
        empty = False
    if answer.status_code != 200:
        return f"{target.path} answered {answer.status_code}, not 200"
    if empty:
        return f"{target.path} lists nothing: its demo values no longer match the demo data"
    return None


def _api_lists_something(data: object) -> bool:
    if isinstance(data, list):
        return bool(data)
    if isinstance(data, dict):
        return bool(data.get("results") or data.get("hits") or data.get("count"))
    return False


def run_sqlmap(portal: Portal, target: SqlmapTarget) -> tuple[SqlmapTarget, str]:
    work = VAR / "sqlmap" / target.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    auth = (
        ["-H", f"Authorization: Bearer {portal.token}"]
        if target.api
        else ["--cookie", portal.cookie_header, "--skip", "sessionid,csrftoken"]
    )
    argv = [
        str(tool_bin("sqlmap", "sqlmap")),
        "-u", portal.url + target.path,
        *auth,
        "--batch", "--level", "2", "--risk", "1",
        # The scan's portal runs on SQLite: its payloads plus the generic ones. Boolean,
        # error and UNION techniques; time-based and stacked queries take minutes per
        # parameter and detect nothing more on read-only filters.
        "--dbms", "SQLite", "--technique", "BEU",
        "--threads", "2", "--timeout", "15", "--retries", "1",
        "--flush-session", "--output-dir", str(work),
        "--disable-coloring",
    ]  # fmt: skip
    result = run(argv, timeout=600, env={**os.environ, "HOME": str(work)})
    log = result.stdout + result.stderr
    (REPORTS / "sqlmap" / f"{target.name}.log").write_text(f"{target.path}\n{log}")
    return target, log


def parse_sqlmap(target: SqlmapTarget, log: str) -> tuple[list[str], int, list[str]]:
    """Injection points sqlmap found, the parameters it tested, and why it could not finish."""
    findings = [
        f"{target.path}: {line.strip()}"
        for line in log.splitlines()
        if re.search(r"parameter '[^']+' (is '.+' injectable|is vulnerable)", line)
    ]
    if "sqlmap identified the following injection point" in log:
        findings.append(f"{target.path}: sqlmap identified an injection point")
    tested = len(re.findall(r"testing for SQL injection on GET parameter '", log))
    problems = [
        f"{target.path}: {message}"
        for message in re.findall(r"\[CRITICAL\] (.+)", log)
        if "all tested parameters do not appear to be injectable" not in message
    ]
    # The one ending that says every parameter was tried and none was injectable.
    if not findings and "all tested parameters do not appear to be injectable" not in log:
        problems.append(f"{target.path}: sqlmap did not finish its tests")
    return findings, tested, problems


def scan_sqlmap(portal: Portal) -> Outcome:
    outcome = Outcome("sqlmap")
    targets = sqlmap_targets(portal)
    problems = [problem for t in targets if (problem := check_target(portal, t))]
    if problems:
        outcome.failures += problems
        return outcome
    (REPORTS / "sqlmap").mkdir(exist_ok=True)
    # The URLs with most parameters first, so the slowest run does not start last.
    targets.sort(key=lambda target: -target.path.count("="))
    with ThreadPoolExecutor(max_workers=SQLMAP_PARALLEL) as pool:
        results = list(pool.map(lambda target: run_sqlmap(portal, target), targets))
    counts: collections.Counter[str] = collections.Counter()
    for target, log in results:
        findings, tested, problems = parse_sqlmap(target, log)
        kind = "api" if target.api else "pages"
        counts["injectable"] += len(findings)
        counts[f"{kind} URLs"] += 1
        counts[f"{kind} parameters"] += tested
        outcome.failures += findings + problems
    outcome.counts = dict(counts)
    try:
        check_signed_in(portal.url, portal.cookies)
    except RuntimeError as error:
        outcome.failures.append(f"{SQLMAP_USER} lost the session during the scan: {error}")
    return outcome


# --- the whole stage ---------------------------------------------------------------


def timed(function, *args, **kwargs) -> Outcome:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    try:
        outcome: Outcome = function(*args, **kwargs)
    except Exception as error:  # a crashed scanner fails the stage, with the reason
        outcome = Outcome(function.__name__.removeprefix("scan_").replace("_", "-"))
        outcome.failures.append(f"{type(error).__name__}: {error}")
    outcome.seconds = time.monotonic() - start
    return outcome


def print_outcome(outcome: Outcome) -> None:
    verdict = "ok" if outcome.ok else f"FAILED ({len(outcome.failures)})"
    counts = ", ".join(f"{name} {count}" for name, count in outcome.counts.items())
    print(f"== {outcome.name}: {verdict} in {outcome.seconds:.0f} s — {counts or 'no counts'}")
    for note in outcome.notes:
        print(f"   {note}")
    for failure in outcome.failures[:50]:
        print(f"   ! {failure}")
    if len(outcome.failures) > 50:
        print(f"   ! … and {len(outcome.failures) - 50} more")


# A database error whose text says the SQL itself was malformed: what a payload that
# reached a query looks like. The portal answers it with its 503 page (as for a
# database that is down), which the scanners do not take for a finding.
SQL_ERROR = re.compile(
    r"(OperationalError|ProgrammingError|DataError): .*(syntax error|unrecognized token|"
    r"unterminated|no such column|does not exist|malformed|invalid input syntax)"
)


def read_server_log(text: str) -> Outcome:
    """The scanned portal's own log: a server error or a malformed query fails the scan."""
    outcome = Outcome("server log")
    counts: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # uvicorn's own start and stop lines
        if entry.get("level") not in {"ERROR", "CRITICAL"}:
            continue
        counts["errors"] += 1
        status = entry.get("status_code")
        where = entry.get("message", "")
        sql_error = SQL_ERROR.search(entry.get("exception", ""))
        if sql_error:
            counts["malformed SQL"] += 1
            outcome.failures.append(f"malformed SQL reached the database: {where}: {sql_error[0]}")
        elif status == 500:
            counts["500"] += 1
            outcome.failures.append(f"server error: {where}")
    outcome.counts = {"errors": 0, "malformed SQL": 0, "500": 0} | dict(counts)
    return outcome


def scan_live(live: list[str], scan_time: int, attack_time: int) -> list[Outcome]:
    start = time.monotonic()
    try:
        with live_portal() as portal:
            print(f"   portal with demo data on {portal.url} in {time.monotonic() - start:.0f} s")
            with ThreadPoolExecutor(max_workers=2) as pool:
                jobs = []
                if "wapiti" in live:
                    jobs.append(
                        pool.submit(
                            timed,
                            scan_wapiti,
                            portal,
                            scan_time=scan_time,
                            attack_time=attack_time,
                        )
                    )
                if "sqlmap" in live:
                    jobs.append(pool.submit(timed, scan_sqlmap, portal))
                outcomes = [job.result() for job in jobs]
            outcomes.append(read_server_log((REPORTS / "server.log").read_text()))
            return outcomes
    except Exception as error:
        return [Outcome("live portal", failures=[f"{type(error).__name__}: {error}"])]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default=",".join(TOOLS), help="comma-separated: " + ",".join(TOOLS)
    )
    parser.add_argument(
        "--wapiti-scan-time",
        type=int,
        default=int(os.environ.get("PORTAL_SCAN_WAPITI_SECONDS", "60")),
        help="how long wapiti may crawl (default 60 s)",
    )
    parser.add_argument(
        "--wapiti-attack-time",
        type=int,
        default=int(os.environ.get("PORTAL_SCAN_WAPITI_ATTACK_SECONDS", "20")),
        help="how long each wapiti attack module may run (default 20 s)",
    )
    parser.add_argument(
        "--pip-audit-unreachable",
        choices=("fail", "warn"),
        default=os.environ.get("PORTAL_SCAN_PIP_AUDIT_UNREACHABLE", "fail"),
        help="when the vulnerability service cannot audit a package (default: fail)",
    )
    options = parser.parse_args(argv)
    wanted = [name.strip() for name in options.only.split(",") if name.strip()]
    unknown = set(wanted) - set(TOOLS)
    if unknown:
        parser.error(f"unknown scanners: {', '.join(sorted(unknown))}")
    started = time.monotonic()
    REPORTS.mkdir(parents=True, exist_ok=True)
    print(f"== security scanners: {', '.join(wanted)} ({', '.join(TOOLS[t] for t in wanted)})")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(ensure_venv, wanted))
    print(f"   environments ready in {time.monotonic() - started:.0f} s under {VENVS}")

    outcomes: list[Outcome] = []
    live = [name for name in ("wapiti", "sqlmap") if name in wanted]
    # The code and dependency scans run while the portal is prepared; wapiti and sqlmap
    # then run side by side against it.
    with ThreadPoolExecutor(max_workers=4) as pool:
        static = []
        if "bandit" in wanted:
            static.append(pool.submit(timed, scan_bandit))
        if "pip-audit" in wanted:
            unreachable = options.pip_audit_unreachable
            static.append(pool.submit(timed, scan_pip_audit, unreachable=unreachable))
        if live:
            outcomes += scan_live(live, options.wapiti_scan_time, options.wapiti_attack_time)
        outcomes = [job.result() for job in static] + outcomes
    for outcome in outcomes:
        print_outcome(outcome)
    failed = [o.name for o in outcomes if not o.ok]
    total = time.monotonic() - started
    if failed:
        where = REPORTS.relative_to(ROOT)
        print(
            f"== security scanners FAILED: {', '.join(failed)} ({total:.0f} s; reports in {where})"
        )
        return 1
    print(f"== security scanners passed: no finding of medium severity or above ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
