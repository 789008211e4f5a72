"""The SLO's alert rules (deploy/prometheus): valid, tested, and about metrics we export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from portal.core import metrics
from tests.components import require

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus"
RULE_FILES = [RULES / "recording.yml", RULES / "alerts.yml"]
SLO = ROOT / "docs" / "slo.md"
# PromQL words that look like metric names in an expression.
PROMQL_WORDS = {
    "sum", "rate", "increase", "max", "min", "avg", "count", "by", "without", "on",
    "ignoring", "group_left", "group_right", "and", "or", "unless", "vector",
    "histogram_quantile", "absent", "le", "offset", "bool", "inf", "nan",
}  # fmt: skip


def _rules() -> list[dict[str, Any]]:
    found = []
    for path in RULE_FILES:
        document = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            found += group["rules"]
    return found


def _exported_names() -> set[str]:
    """Every sample name /metrics can show, from the metrics module itself."""
    names = set()
    for metric in (
        metrics.HTTP_REQUESTS,
        metrics.HTTP_DURATION,
        metrics.LIVE_STREAMS,
        metrics.PAYMENTS,
        metrics.SCANS,
    ):
        for family in metric.describe():
            kind = family.type
            names |= {
                "counter": {f"{family.name}_total"},
                "histogram": {
                    f"{family.name}_bucket",
                    f"{family.name}_count",
                    f"{family.name}_sum",
                },
            }.get(kind, {family.name})
    names |= {
        "portal_tasks_ready",
        "portal_tasks_oldest_ready_age_seconds",
        "portal_tasks_queue_up",
    }
    return names


def _metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groupings = re.sub(
        r"\b(by|on|without|ignoring|group_left)\s*\([^)]*\)", "", without_ranges
    )
    return {
        word
        for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_groupings)
        if word.lower() not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]?", word)
    }


def test_every_rule_reads_metrics_the_portal_exports_or_rules_record() -> None:
    rules = _rules()
    recorded = {rule["record"] for rule in rules if "record" in rule}
    known = _exported_names() | recorded | {"up"}
    for rule in rules:
        unknown = _metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('record') or rule.get('alert')} reads {unknown}"
    # And every exported metric is used by some rule (or documented as for dashboards).
    used = set().union(*(_metric_names(rule["expr"]) for rule in rules))
    text = SLO.read_text()
    for name in _exported_names() - used:
        family = re.sub(r"_(bucket|count|sum)$", "", name)
        assert f"`{family}`" in text, f"{name} is neither alerted on nor described in docs/slo.md"


def test_alerts_page_or_ticket_and_point_to_the_runbook() -> None:
    alerts = [rule for rule in _rules() if "alert" in rule]
    assert {alert["alert"] for alert in alerts} >= {
        "PortalErrorBudgetBurnFast",
        "PortalErrorBudgetBurnMedium",
        "PortalErrorBudgetBurnSlow",
        "PortalPagesSlow",
        "PortalNodeDown",
        "PortalTaskQueueStalled",
    }
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in SLO.read_text().splitlines()
        if line.startswith("#")
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in {"page", "ticket"}
        assert alert["annotations"]["summary"]
        page, _, anchor = alert["annotations"]["runbook"].partition("#")
        assert page == "docs/slo.md" and anchor in anchors, alert["alert"]


def test_the_objective_and_the_error_budget_agree_with_the_slo_document() -> None:
    rules = {rule.get("record"): rule for rule in _rules()}
    objective = float(re.findall(r"[\d.]+", rules["portal:slo_availability:objective"]["expr"])[0])
    assert objective == 0.999
    budget_minutes = 30 * 24 * 60 * (1 - objective)
    assert round(budget_minutes, 1) == 43.2
    text = SLO.read_text()
    assert "99.9 %" in text and "43.2 minutes" in text
    # The burn rates of the multiwindow alerts, as the SLO document lists them.
    alerts = {rule.get("alert"): rule["expr"] for rule in _rules() if "alert" in rule}
    assert "14.4 * (1 - portal:slo_availability:objective)" in alerts["PortalErrorBudgetBurnFast"]
    assert "6 * (1 - portal:slo_availability:objective)" in alerts["PortalErrorBudgetBurnMedium"]
    for rate in ("14.4", "6", "3", "1"):
        assert f"| {rate} " in text


def test_promtool_checks_the_rules_and_runs_their_unit_tests() -> None:
    require("promtool")
    promtool = shutil.which("promtool") or "promtool"
    check = subprocess.run(
        [promtool, "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"],
        cwd=RULES, capture_output=True, text=True,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "SUCCESS" in tests.stdout
