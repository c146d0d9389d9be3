"""The alert rules (ops/prometheus/alerts.yml) load, and name only metrics the API exports.

With promtool on the PATH (Debian's ``prometheus`` package), the rules are also checked by it
and its unit tests (ops/prometheus/alerts_test.yml) run: each alert fires when it should.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import Metric

from api import metrics
from api.operations import STATE_METRICS

RULES = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
# Series Prometheus makes itself, and PromQL's words that look like names.
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {"and", "or", "unless", "offset", "bool", "sum", "max", "min", "avg", "count"}


def exported_names() -> set[str]:
    """Every series name the API exports: api.metrics' samples and the scrape-time gauges."""
    names = set(STATE_METRICS)
    for value in vars(metrics).values():
        if hasattr(value, "collect") and hasattr(value, "_name"):
            family: Metric
            for family in value.collect():
                names.add(family.name)
                names.update(sample.name for sample in family.samples)
                if family.type in ("counter", "histogram"):
                    names.add(family.name + ("_total" if family.type == "counter" else "_count"))
                if family.type == "histogram":
                    names.update({family.name + "_bucket", family.name + "_sum"})
    return names


def load_rules() -> list[dict]:
    document = yaml.safe_load((RULES / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_alert_names_exported_metrics_and_says_what_to_do() -> None:
    rules = load_rules()
    recorded = {rule["record"] for rule in rules if "record" in rule}
    known = exported_names() | recorded | PROMETHEUS_OWN
    alerts = [rule for rule in rules if "alert" in rule]
    assert {a["alert"] for a in alerts} >= {
        "CrdaOutboxStuck",
        "CrdaIndexerBehind",
        "CrdaReconciliationNotZero",
        "CrdaNotReady",
        "CrdaFraudRefusalsSpiking",
    }
    readme = (RULES.parents[1] / "README.md").read_text().lower()
    for rule in rules:
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")"), rule
        assert expr.count("{") == expr.count("}"), rule
        # Names outside label matchers, strings and range selectors.
        bare = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', " ", expr)
        bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
        functions = set(re.findall(r"([a-z_:][a-z0-9_:]*)\s*\(", bare))
        names = set(re.findall(r"[a-z_:][a-z0-9_:]*", bare)) - functions - PROMQL_WORDS
        names -= {"m", "h", "d", "s"}  # duration units after a number
        assert names <= known, f"{rule.get('alert') or rule['record']} names {names - known}"
        if "alert" in rule:
            assert rule["labels"]["severity"] in ("page", "ticket"), rule
            anchor = rule["annotations"]["runbook"].split("#")[1]
            assert f"#### {rule['alert'].lower()}" in readme, f"README explains {anchor}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_checks_the_rules_and_their_unit_tests() -> None:
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        done = subprocess.run(
            ["promtool", *command], cwd=RULES, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
