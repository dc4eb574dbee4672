#!/usr/bin/python3
"""The PromQL of dashboards/ against what tm-sidecar exports.

    check_queries.py --rules dashboards/alerts.yml --dashboard dashboards/taskmaster.json
                     (--syntax | --metrics SCRAPE [--extra-expr EXPR]...)

--syntax: the dashboard is JSON with the `datasource` and `workflow` variables,
every panel but a row has targets, and each target's expression (Grafana's
variables replaced by values) is PromQL that `promtool check rules` accepts.

--metrics SCRAPE: every series an alert rule or a dashboard query selects is in
SCRAPE (a real /metrics body), with every label it matches on, every value it
matches with `=`, and every label it groups or joins by (or one Prometheus adds
to every target: instance, job); the labels an alert's annotations read
($labels.X) too. --extra-expr adds expressions to check (a test shows a wrong
one is caught).

Exit status: 0 passed, 1 a problem found (each printed), 2 usage.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

TARGET_LABELS = {"instance", "job"}  # added by Prometheus to every scraped series
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "${workflow}": ".+",
    "$workflow": ".+",
}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}
IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
SELECTOR = re.compile(r"(" + IDENT + r")?\s*\{([^}]*)\}")
MATCHER = re.compile(r"(" + IDENT + r")\s*(=~|!~|!=|=)\s*\"((?:[^\"\\]|\\.)*)\"")
SAMPLE = re.compile(r"^(" + IDENT + r")(?:\{(.*)\})? \S+$")


def grafana_to_promql(expr):
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def load_rules(path):
    """(name, expr, annotation text) per rule."""
    with open(path) as f:
        doc = yaml.safe_load(f)
    rules = []
    for group in doc["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            text = " ".join(str(v) for v in (rule.get("annotations") or {}).values())
            rules.append((name, rule["expr"], text))
    return rules


def dashboard_targets(dashboard):
    """(panel title, expr) per target of every panel, rows' panels included."""
    out = []

    def walk(panels):
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                out.append((panel.get("title", "?"), target.get("expr", "")))

    walk(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        m = re.match(r"label_values\((" + IDENT + r"),\s*(" + IDENT + r")\)",
                     variable.get("definition", ""))
        if m:
            out.append(("variable " + variable["name"], "%s{%s=~\".+\"}" % m.groups()))
    return out


def parse_scrape(text):
    """{series name: {label: set of values}} of a /metrics body."""
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("not a sample line: " + line)
        labels = series.setdefault(m.group(1), {})
        for label, _, value in MATCHER.findall(m.group(2) or ""):
            labels.setdefault(label, set()).add(value)
    return series


def selections(expr):
    """The series names, matchers (name, label, op, value) and grouping labels of expr."""
    expr = re.sub(r"#.*", "", grafana_to_promql(expr))
    grouping = set()
    for _, labels in GROUPING.findall(expr):
        grouping.update(l.strip() for l in labels.split(",") if l.strip())
    expr = GROUPING.sub(" ", expr)
    names, matchers = set(), []
    for name, body in SELECTOR.findall(expr):
        for label, op, value in MATCHER.findall(body):
            if label == "__name__" and op == "=":
                name = value
            matchers.append((name, label, op, value))
        if name:
            names.add(name)
    expr = SELECTOR.sub(" ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges, subqueries
    for m in re.finditer(r"(?<![\w.])(" + IDENT + r")\b(\s*\()?", expr):
        word, call = m.group(1), m.group(2)
        if not call and word.lower() not in KEYWORDS:
            names.add(word)
    return names, matchers, grouping


def check_expr(where, expr, series, annotation=""):
    problems = []
    names, matchers, grouping = selections(expr)
    if not names:
        problems.append("%s: selects no series: %s" % (where, expr))
    labels_here = set(TARGET_LABELS)
    for name in sorted(names):
        if name not in series:
            problems.append("%s: %s is not exported" % (where, name))
            continue
        labels_here.update(series[name])
    for name, label, op, value in matchers:
        if name not in series or label == "__name__":
            continue
        values = series[name].get(label)
        if values is None and label not in TARGET_LABELS:
            problems.append("%s: %s has no label %s" % (where, name, label))
        elif op == "=" and values is not None and value not in values:
            problems.append("%s: %s{%s=\"%s\"} is not exported (values: %s)" %
                            (where, name, label, value, ", ".join(sorted(values))))
    for label in sorted(grouping - labels_here):
        problems.append("%s: no series it selects has the label %s" % (where, label))
    for label in sorted(set(re.findall(r"\$labels\.(" + IDENT + r")", annotation)) - labels_here):
        problems.append("%s: its annotations read $labels.%s, which no series it selects has" %
                        (where, label))
    return problems


def check_syntax(dashboard, targets):
    problems = []
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource":
        problems.append("dashboard: no `datasource` variable of type datasource")
    if "workflow" not in variables:
        problems.append("dashboard: no `workflow` variable")
    for panel in dashboard.get("panels", []):
        if panel.get("type") != "row" and not panel.get("targets"):
            problems.append("panel %r has no query" % panel.get("title"))
    records = [{"record": "dashboard:query_%d" % i, "expr": grafana_to_promql(expr)}
               for i, (_, expr) in enumerate(targets)]
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}, f)
        f.flush()
        run = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True,
                             text=True)
    if run.returncode != 0:
        problems.append("promtool rejects a dashboard query:\n" + run.stdout + run.stderr)
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", required=True)
    parser.add_argument("--dashboard", required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--syntax", action="store_true")
    mode.add_argument("--metrics")
    parser.add_argument("--extra-expr", action="append", default=[])
    args = parser.parse_args()

    try:
        with open(args.dashboard) as f:
            dashboard = json.load(f)
        rules = load_rules(args.rules)
    except (OSError, ValueError, yaml.YAMLError, KeyError) as e:
        print("cannot read the rules or the dashboard: %s" % e, file=sys.stderr)
        return 2
    targets = dashboard_targets(dashboard)
    if args.syntax:
        problems = check_syntax(dashboard, targets)
    else:
        with open(args.metrics) as f:
            series = parse_scrape(f.read())
        problems = []
        for name, expr, annotation in rules:
            problems += check_expr("rule " + name, expr, series, annotation)
        for title, expr in targets:
            problems += check_expr("panel " + title, expr, series)
        for expr in args.extra_expr:
            problems += check_expr("--extra-expr", expr, series)
    for problem in problems:
        print(problem)
    checked = len(targets) + (0 if args.syntax else len(rules) + len(args.extra_expr))
    print("%d expressions, %d problems" % (checked, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
