#!/usr/bin/python3
"""Offline lint of Argo Workflows manifests (no cluster, no argo binary).

    lint-workflows.py [--schema PATH] FILE_OR_DIR...

Checks every Argo Workflows document (Workflow, WorkflowTemplate,
ClusterWorkflowTemplate, CronWorkflow, WorkflowEventBinding) in the given YAML files
(directories: their *.yaml and *.yml files), and skips other documents (RBAC, Secrets,
Argo Events). The schema is Argo's official JSON schema (api/jsonschema/schema.json of
the Argo release you run), from --schema or ARGO_SCHEMA.

Rules (each finding: FILE: <json path>: rule N (<name>): message):
   1 schema          the official schema, strictly: an unknown field is an error, as
                     `argo lint` decodes; numbers are allowed where the schema's
                     IntOrString / Quantity say string; duplicate YAML keys
   2 names           metadata, template, step, task, parameter, artifact, container,
                     volume and metric names: patterns, lengths, uniqueness
   3 entrypoint      entrypoint, onExit and workflow hooks name existing templates
   4 template-ref    every step/task template (and templateRef, onExit, hook) exists
   5 inputs          {{inputs.parameters.x}} / {{inputs.artifacts.x}} are declared by
                     their template
   6 workflow-params {{workflow.parameters.x}} is declared in spec.arguments (for a
                     Workflow with workflowTemplateRef: or in that template, when it is
                     linted in the same run)
   7 step-ref        {{steps.s...}} names a step of an earlier step group of the same
                     steps template; {{tasks.t...}} an ancestor task of the same DAG;
                     DAG dependencies exist and have no cycle
   8 value-from      exactly one valueFrom kind per output parameter, of a kind the
                     template type supports
   9 retry-policy    retryPolicy is one of Argo's values
  10 loops           at most one of withItems / withParam / withSequence; a literal
                     withParam is a JSON array
  11 max-duration    (Taskmaster) no retryStrategy.backoff.maxDuration: it counts from
                     the first attempt and becomes the pod's deadline (DESIGN.md §2)
  12 scope           {{retries}} only where a retryStrategy applies, {{pod.name}} only
                     in pod templates, {{outputs.parameters.x}} declared

Expression tags ({{=...}}) are checked for the same references; a hyphenated name
must be indexed there (workflow.parameters['my-param']).

Exit status: 0 no findings, 1 findings, 2 usage (bad arguments, unreadable schema or
file). Needs python3-yaml and python3-jsonschema (Draft 2020-12).
"""

import argparse
import json
import os
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        "lint-workflows: %s; install python3-yaml and python3-jsonschema "
        "(scripts/bootstrap.sh does)\n" % e)
    sys.exit(2)

RULES = {
    1: "schema",
    2: "names",
    3: "entrypoint",
    4: "template-ref",
    5: "inputs",
    6: "workflow-params",
    7: "step-ref",
    8: "value-from",
    9: "retry-policy",
    10: "loops",
    11: "max-duration",
    12: "scope",
}

ARGO_GROUP = "argoproj.io/"
KIND_DEFINITIONS = {
    "ClusterWorkflowTemplate": "io.argoproj.workflow.v1alpha1.ClusterWorkflowTemplate",
    "CronWorkflow": "io.argoproj.workflow.v1alpha1.CronWorkflow",
    "Workflow": "io.argoproj.workflow.v1alpha1.Workflow",
    "WorkflowEventBinding": "io.argoproj.workflow.v1alpha1.WorkflowEventBinding",
    "WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
}
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")  # templates, steps, tasks
MAX_FIELD_NAME = 63
PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")  # parameters, artifacts
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RETRY_POLICIES = ("Always", "OnFailure", "OnError", "OnTransientError")
RESERVED_CONTAINERS = ("main", "wait", "init")  # Argo's own container names
POD_TEMPLATE_TYPES = ("container", "script", "resource", "containerSet", "data")
LOOP_KEYS = ("withItems", "withParam", "withSequence")
VALUE_FROM_KINDS = ("path", "jsonPath", "jqFilter", "parameter", "expression", "supplied",
                    "event", "configMapKeyRef")
OUTPUT_KINDS_BY_TYPE = {
    "container": ("path",),
    "script": ("path",),
    "containerSet": ("path",),
    "resource": ("jsonPath", "jqFilter"),
    "steps": ("parameter", "expression"),
    "dag": ("parameter", "expression"),
    "suspend": ("supplied",),
}
TEMPLATE_TYPES = ("container", "containerSet", "steps", "script", "resource", "dag",
                  "suspend", "data", "http", "plugin")

TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
# References inside an expression tag. A name after a dot ends at the first
# character expr would not read as part of an identifier; a following "-" means
# the author wrote a hyphenated name, which expr parses as a subtraction.
EXPR_PARAM = re.compile(
    r"(?<![\w.])(inputs|workflow)\.parameters"
    r"(?:\.([A-Za-z_][A-Za-z0-9_]*)(-[-A-Za-z0-9_]*)?|\[\s*(['\"])(.*?)\4\s*\])")
EXPR_ARTIFACT = re.compile(
    r"(?<![\w.])inputs\.artifacts(?:\.([A-Za-z_][A-Za-z0-9_]*)(-[-A-Za-z0-9_]*)?"
    r"|\[\s*(['\"])(.*?)\3\s*\])")
EXPR_NODE = re.compile(
    r"(?<![\w.])(steps|tasks)(?:\.([A-Za-z0-9_]+)(-[-A-Za-z0-9_]*)?|\[\s*(['\"])(.*?)\4\s*\])")
EXPR_OUTPUT = re.compile(
    r"(?<![\w.])outputs\.parameters(?:\.([A-Za-z_][A-Za-z0-9_]*)(-[-A-Za-z0-9_]*)?"
    r"|\[\s*(['\"])(.*?)\3\s*\])")
EXPR_RETRIES = re.compile(r"(?<![\w.])retries(?!\w)")
EXPR_POD_NAME = re.compile(r"(?<![\w.])pod\.name(?!\w)")
# String literals, scanned left to right; those that are not an index (x['name'])
# are blanked before matching references.
EXPR_LITERAL = re.compile(r"(\[\s*)?('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


class UsageError(Exception):
    pass


# ---- Paths and findings -------------------------------------------------------

def json_path(parts):
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", p):
            out += "." + p
        else:
            out += "[%s]" % json.dumps(p)
    return out


class Report:
    def __init__(self):
        self.findings = []
        self.notes = []

    def add(self, file, path, rule, message):
        line = "%s: %s: rule %d (%s): %s" % (file, json_path(path), rule, RULES[rule], message)
        if line not in self.findings:
            self.findings.append(line)

    def note(self, message):
        if message not in self.notes:
            self.notes.append(message)


# ---- Schema -------------------------------------------------------------------

def _walk_schema(node, visit):
    """Calls visit(subschema) for every subschema, following the JSON Schema keywords
    (so a property that happens to be named "properties" is not taken for one)."""
    if not isinstance(node, dict):
        return
    visit(node)
    for key in ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas"):
        sub = node.get(key)
        if isinstance(sub, dict):
            for child in sub.values():
                _walk_schema(child, visit)
    for key in ("items", "additionalProperties", "additionalItems", "not", "if", "then", "else",
                "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems"):
        if isinstance(node.get(key), dict):
            _walk_schema(node[key], visit)
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        if isinstance(node.get(key), list):
            for child in node[key]:
                _walk_schema(child, visit)
    if isinstance(node.get("items"), list):
        for child in node["items"]:
            _walk_schema(child, visit)


def load_schema(path):
    try:
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
    except OSError as e:
        raise UsageError("cannot read the Argo schema %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise UsageError("the Argo schema %s is not JSON: %s" % (path, e))
    defs = schema.get("definitions") if isinstance(schema, dict) else None
    if not isinstance(defs, dict) or not all(d in defs for d in KIND_DEFINITIONS.values()):
        raise UsageError("%s is not Argo's JSON schema (api/jsonschema/schema.json): "
                         "its definitions lack the Argo kinds" % path)
    # The generated schema types these as strings only; Kubernetes and Argo accept
    # numbers too (retryStrategy.limit: 3, backoff.factor: 2, cpu: 1).
    for name, types in ((INT_OR_STRING, ["string", "integer"]), (QUANTITY, ["string", "number"])):
        if name in defs:
            widened = {"type": types}
            if "description" in defs[name]:
                widened["description"] = defs[name]["description"]
            defs[name] = widened

    # Strict decoding: an object schema with properties accepts nothing else, unless
    # the schema itself says what else it accepts.
    def close(node):
        if isinstance(node.get("properties"), dict) and not any(
                k in node for k in ("additionalProperties", "patternProperties",
                                    "unevaluatedProperties", "x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False

    _walk_schema(schema, close)
    validators = {}
    for kind, definition in KIND_DEFINITIONS.items():
        root = {k: v for k, v in schema.items() if k not in ("oneOf", "type")}
        root["$ref"] = "#/definitions/" + definition
        validators[kind] = jsonschema.Draft202012Validator(root)
    return validators


def schema_findings(report, file, base, doc, validator):
    def key(err):
        return json.dumps([str(p) for p in err.absolute_path])

    for err in sorted(validator.iter_errors(doc), key=key):
        path = base + list(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = err.schema.get("properties", {})
            extra = [k for k in err.instance if k not in known]
            for k in extra:
                report.add(file, path + [k], 1, "unknown field %s" % json.dumps(k))
            if extra:
                continue
        report.add(file, path, 1, err.message)


# ---- YAML -----------------------------------------------------------------------

class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, as Kubernetes' strict decoding does."""


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue  # merge keys (<<) and complex keys are left to PyYAML
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %s (first at line %d)" % (json.dumps(key), seen[key] + 1),
                key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_documents(path):
    """Returns [document] or raises yaml.YAMLError."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [d for d in yaml.load_all(text, Loader=StrictLoader)]


# ---- Walking documents ----------------------------------------------------------

def _is_list(x):
    return isinstance(x, list)


def _is_map(x):
    return isinstance(x, dict)


def items(node, key):
    """(index, element) of node[key] when it is a list of mappings."""
    value = node.get(key) if _is_map(node) else None
    if not _is_list(value):
        return []
    return [(i, e) for i, e in enumerate(value) if _is_map(e)]


def iter_strings(node, path, skip=()):
    """(path, string) of every string value under node; keys in skip are not entered."""
    if isinstance(node, str):
        yield path, node
    elif _is_map(node):
        for k, v in node.items():
            if k in skip:
                continue
            yield from iter_strings(v, path + [k], skip)
    elif _is_list(node):
        for i, v in enumerate(node):
            yield from iter_strings(v, path + [i], skip)


def iter_tags(node, path, skip=()):
    """(path, kind, body) of each {{...}} tag: kind "simple" (body trimmed) or "expr"."""
    for p, s in iter_strings(node, path, skip):
        for m in TAG.finditer(s):
            body = m.group(1)
            if body.startswith("="):
                yield p, "expr", blank_literals(body[1:])
            else:
                yield p, "simple", body.strip()


def blank_literals(expression):
    return EXPR_LITERAL.sub(lambda m: m.group(0) if m.group(1) is not None else "''", expression)


def template_type(tmpl):
    for t in TEMPLATE_TYPES:
        if tmpl.get(t) is not None:
            return t
    return None


def simple_ref(body, prefix):
    """For body "prefix.rest": rest, else None."""
    if body.startswith(prefix + "."):
        return body[len(prefix) + 1:]
    return None


class Doc:
    """An Argo document and where its WorkflowSpec is."""

    def __init__(self, file, index, multi, doc):
        self.file = file
        self.doc = doc
        self.base = [index] if multi else []
        self.kind = doc.get("kind")
        spec = doc.get("spec")
        self.spec_path = self.base + ["spec"]
        if self.kind == "CronWorkflow" and _is_map(spec):
            spec = spec.get("workflowSpec")
            self.spec_path = self.base + ["spec", "workflowSpec"]
        self.spec = spec if _is_map(spec) else {}
        meta = doc.get("metadata")
        self.name = meta.get("name") if _is_map(meta) else None


class Linter:
    def __init__(self, validators):
        self.validators = validators
        self.report = Report()
        self.argo_docs = []
        self.documents = 0
        self.files = 0

    # -- input --

    def add_file(self, path):
        self.files += 1
        try:
            docs = load_documents(path)
        except OSError as e:
            raise UsageError("cannot read %s: %s" % (path, e.strerror))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = " (line %d)" % (mark.line + 1) if mark else ""
            problem = getattr(e, "problem", None) or str(e)
            self.report.add(path, [], 1, "not valid YAML%s: %s" % (where, problem))
            return
        docs = [d for d in docs if d is not None]
        multi = len(docs) > 1
        for i, doc in enumerate(docs):
            base = [i] if multi else []
            if not _is_map(doc):
                self.report.add(path, base, 1, "a manifest must be a mapping")
                continue
            api = doc.get("apiVersion")
            kind = doc.get("kind")
            argo_api = isinstance(api, str) and api.startswith(ARGO_GROUP)
            if kind in KIND_DEFINITIONS and api is None:
                self.report.add(path, base + ["apiVersion"], 1,
                                "apiVersion is required (argoproj.io/v1alpha1)")
            elif not argo_api:
                continue  # RBAC, Secrets, ...: not Argo Workflows
            elif kind not in KIND_DEFINITIONS:
                self.report.note("%s: %s: %s %s is not an Argo Workflows kind; not checked"
                                 % (path, json_path(base), api, kind))
                continue
            self.documents += 1
            self.argo_docs.append(Doc(path, i, multi, doc))

    def templates_named(self, kind, name):
        for d in self.argo_docs:
            if d.kind == kind and d.name == name:
                return d
        return None

    # -- checks --

    def run(self):
        for d in self.argo_docs:
            schema_findings(self.report, d.file, d.base, d.doc, self.validators[d.kind])
            if d.kind == "WorkflowEventBinding":
                self.check_metadata(d)
                continue
            self.check_document(d)
        return self.report

    def add(self, d, path, rule, message):
        self.report.add(d.file, path, rule, message)

    def referenced_template(self, d):
        """(ref_doc or None, resolved?) for a spec with workflowTemplateRef."""
        ref = d.spec.get("workflowTemplateRef")
        if not _is_map(ref):
            return None, True
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
        target = self.templates_named(kind, ref.get("name"))
        if target is None:
            self.report.note(
                "%s: %s %s is not among the linted files: references into it are not checked"
                % (d.file, kind, ref.get("name")))
            return None, False
        return target, True

    def check_document(self, d):
        self.check_metadata(d)
        spec, sp = d.spec, d.spec_path
        ref_doc, resolved = self.referenced_template(d)
        own_templates = {t.get("name"): i for i, t in items(spec, "templates")}
        if ref_doc is not None:
            available = {t.get("name") for _, t in items(ref_doc.spec, "templates")}
        else:
            available = set(own_templates)
        has_ref = _is_map(spec.get("workflowTemplateRef"))

        # Rule 3: entrypoint, onExit, workflow-level hooks.
        entry = spec.get("entrypoint")
        if entry is None and ref_doc is not None:
            entry = ref_doc.spec.get("entrypoint")
        if resolved:
            if entry is None:
                if d.kind in ("Workflow", "CronWorkflow"):
                    self.add(d, sp + ["entrypoint"], 3, "spec.entrypoint is required")
            elif entry not in available:
                self.add(d, sp + ["entrypoint"], 3,
                         "entrypoint %s names no template" % json.dumps(entry))
            on_exit = spec.get("onExit")
            if on_exit is not None and on_exit not in available:
                self.add(d, sp + ["onExit"], 3, "onExit %s names no template" % json.dumps(on_exit))
            hooks = spec.get("hooks")
            if _is_map(hooks):
                for hook_name, hook in hooks.items():
                    if _is_map(hook) and "template" in hook and hook["template"] not in available:
                        self.add(d, sp + ["hooks", hook_name, "template"], 3,
                                 "hook template %s names no template" % json.dumps(hook["template"]))
        if has_ref and own_templates:
            self.add(d, sp + ["templates"], 4,
                     "a workflow with workflowTemplateRef may not define templates")

        # Rule 2 on the spec's own lists.
        self.check_params_list(d, spec.get("arguments"), sp + ["arguments"])
        self.check_volumes(d, spec, sp)
        self.check_metrics_names(d, spec.get("metrics"), sp + ["metrics"])
        seen = {}
        for i, t in items(spec, "templates"):
            p = sp + ["templates", i]
            name = t.get("name")
            if not isinstance(name, str) or not name:
                self.add(d, p + ["name"], 2, "every template needs a name")
            else:
                self.check_field_name(d, p + ["name"], name, "template")
                if name in seen:
                    self.add(d, p + ["name"], 2, "template name %s is not unique (also templates[%d])"
                             % (json.dumps(name), seen[name]))
                seen.setdefault(name, i)

        # Rules 2, 4, 5, 7, 8, 12 per template, inline ones included.
        defaults = spec.get("templateDefaults")
        default_retry = _is_map(defaults) and defaults.get("retryStrategy") is not None
        for tmpl, p in self.all_templates(spec, sp):
            self.check_template(d, tmpl, p, available if resolved else None, default_retry)

        # Rules 9, 11: every retryStrategy in the document.
        self.check_retry_strategies(d, d.doc, d.base)

        # Rule 6: workflow.parameters anywhere in the document.
        if resolved:
            declared = {p.get("name") for _, p in items(spec.get("arguments"), "parameters")}
            if ref_doc is not None:
                declared |= {p.get("name") for _, p in items(ref_doc.spec.get("arguments"), "parameters")}
            self.check_workflow_params(d, declared)

    def all_templates(self, spec, sp):
        out = []

        def visit(tmpl, path):
            out.append((tmpl, path))
            steps = tmpl.get("steps")
            for gi, group in enumerate(steps if _is_list(steps) else []):
                for si, step in enumerate(group if _is_list(group) else []):
                    if _is_map(step) and _is_map(step.get("inline")):
                        visit(step["inline"], path + ["steps", gi, si, "inline"])
            dag = tmpl.get("dag")
            for ti, task in items(dag, "tasks"):
                if _is_map(task.get("inline")):
                    visit(task["inline"], path + ["dag", "tasks", ti, "inline"])

        for i, t in items(spec, "templates"):
            visit(t, sp + ["templates", i])
        return out

    # -- rule 2 helpers --

    def check_metadata(self, d):
        meta = d.doc.get("metadata")
        mp = d.base + ["metadata"]
        if not _is_map(meta):
            return
        name, gen = meta.get("name"), meta.get("generateName")
        limit = 52 if d.kind == "CronWorkflow" else 63 if d.kind != "WorkflowEventBinding" else 253
        if isinstance(name, str):
            if not DNS_SUBDOMAIN.match(name):
                self.add(d, mp + ["name"], 2, "name %s must be a DNS subdomain "
                         "(lower-case alphanumerics, '-' and '.')" % json.dumps(name))
            if len(name) > limit:
                self.add(d, mp + ["name"], 2, "name %s is longer than %d characters"
                         % (json.dumps(name), limit))
        if isinstance(gen, str) and not DNS_SUBDOMAIN.match(gen + "x"):
            self.add(d, mp + ["generateName"], 2, "generateName %s must be a DNS subdomain prefix"
                     % json.dumps(gen))
        if name is None and gen is None:
            self.add(d, mp, 2, "metadata.name or metadata.generateName is required")

    def check_field_name(self, d, path, name, what):
        if not FIELD_NAME.match(name):
            self.add(d, path, 2, "%s name %s must match %s" % (what, json.dumps(name), FIELD_NAME.pattern))
        if len(name) > MAX_FIELD_NAME:
            self.add(d, path, 2, "%s name %s is longer than %d characters"
                     % (what, json.dumps(name), MAX_FIELD_NAME))

    def check_params_list(self, d, holder, path):
        """Names of holder.parameters and holder.artifacts (inputs, outputs, arguments)."""
        if not _is_map(holder):
            return
        for key in ("parameters", "artifacts"):
            seen = set()
            for i, p in items(holder, key):
                name = p.get("name")
                if not isinstance(name, str):
                    continue  # the schema reports a missing name
                if not PARAM_NAME.match(name):
                    self.add(d, path + [key, i, "name"], 2, "%s name %s must match %s"
                             % (key[:-1], json.dumps(name), PARAM_NAME.pattern))
                if name in seen:
                    self.add(d, path + [key, i, "name"], 2, "%s name %s is not unique"
                             % (key[:-1], json.dumps(name)))
                seen.add(name)

    def check_volumes(self, d, holder, path):
        seen = set()
        for i, v in items(holder, "volumes"):
            name = v.get("name")
            if isinstance(name, str):
                if not DNS_LABEL.match(name) or len(name) > 63:
                    self.add(d, path + ["volumes", i, "name"], 2,
                             "volume name %s must be a DNS label (at most 63 characters)" % json.dumps(name))
                if name in seen:
                    self.add(d, path + ["volumes", i, "name"], 2, "volume name %s is not unique" % json.dumps(name))
                seen.add(name)

    def check_metrics_names(self, d, metrics, path):
        for i, m in items(metrics, "prometheus"):
            name = m.get("name")
            if isinstance(name, str) and not METRIC_NAME.match(name):
                self.add(d, path + ["prometheus", i, "name"], 2, "metric name %s must match %s"
                         % (json.dumps(name), METRIC_NAME.pattern))
            for j, label in items(m, "labels"):
                key = label.get("key")
                if isinstance(key, str) and not METRIC_NAME.match(key):
                    self.add(d, path + ["prometheus", i, "labels", j, "key"], 2,
                             "metric label %s must match %s" % (json.dumps(key), METRIC_NAME.pattern))

    def check_containers(self, d, tmpl, p):
        seen = {}
        for key in ("initContainers", "sidecars"):
            for i, c in items(tmpl, key):
                name = c.get("name")
                if not isinstance(name, str):
                    continue
                where = p + [key, i, "name"]
                if not DNS_LABEL.match(name) or len(name) > 63:
                    self.add(d, where, 2, "container name %s must be a DNS label (at most 63 characters)"
                             % json.dumps(name))
                if name in RESERVED_CONTAINERS:
                    self.add(d, where, 2, "container name %s is Argo's own" % json.dumps(name))
                if name in seen:
                    self.add(d, where, 2, "container name %s is not unique in the pod" % json.dumps(name))
                seen[name] = True

    # -- per template --

    def check_template(self, d, tmpl, p, available, default_retry):
        ttype = template_type(tmpl)
        self.check_params_list(d, tmpl.get("inputs"), p + ["inputs"])
        self.check_params_list(d, tmpl.get("outputs"), p + ["outputs"])
        self.check_volumes(d, tmpl, p)
        self.check_containers(d, tmpl, p)
        self.check_metrics_names(d, tmpl.get("metrics"), p + ["metrics"])

        steps = tmpl.get("steps")
        step_groups = []  # [(group index, [(step index, step)])]
        if _is_list(steps):
            for gi, group in enumerate(steps):
                if _is_list(group):
                    step_groups.append((gi, [(si, s) for si, s in enumerate(group) if _is_map(s)]))
        dag_tasks = items(tmpl.get("dag"), "tasks")

        # Rule 2 (step and task names), 4 (references), 10 (loops).
        seen = {}
        for gi, group in step_groups:
            for si, step in group:
                sp = p + ["steps", gi, si]
                self.check_node(d, step, sp, available, "step", seen)
        seen = {}
        for ti, task in dag_tasks:
            self.check_node(d, task, p + ["dag", "tasks", ti], available, "task", seen)

        # Rule 5: inputs.
        inputs = tmpl.get("inputs") if _is_map(tmpl.get("inputs")) else {}
        in_params = {x.get("name") for _, x in items(inputs, "parameters")}
        in_artifacts = {x.get("name") for _, x in items(inputs, "artifacts")}
        outputs = tmpl.get("outputs") if _is_map(tmpl.get("outputs")) else {}
        out_params = {x.get("name") for _, x in items(outputs, "parameters")}
        has_retry = tmpl.get("retryStrategy") is not None or default_retry
        is_pod = ttype in POD_TEMPLATE_TYPES
        tname = json.dumps(tmpl.get("name", "(inline)"))
        for path, kind, body in iter_tags(tmpl, p, skip=("inline",)):
            for ref, hyphen in self.refs(kind, body, "inputs.parameters", EXPR_PARAM, "inputs"):
                if hyphen:
                    self.add(d, path, 5, "in an expression write inputs.parameters['%s'] "
                             "(expr reads '-' as minus)" % ref)
                elif ref is not None and ref not in in_params:
                    self.add(d, path, 5, "inputs.parameters.%s is not declared by template %s"
                             % (ref, tname))
                elif ref is None and not in_params:
                    self.add(d, path, 5, "template %s declares no input parameters" % tname)
            for ref, hyphen in self.named_refs(kind, body, "inputs.artifacts", EXPR_ARTIFACT,
                                                   first_segment=True):
                if hyphen:
                    self.add(d, path, 5, "in an expression write inputs.artifacts['%s']" % ref)
                elif ref not in in_artifacts:
                    self.add(d, path, 5, "inputs.artifacts.%s is not declared by template %s"
                             % (ref, tname))
            # Rule 12: scope of retries, pod.name, outputs.parameters.
            if self.uses(kind, body, "retries", EXPR_RETRIES) and not has_retry:
                self.add(d, path, 12, "{{retries}} is only substituted in a template with a "
                         "retryStrategy; template %s has none" % tname)
            if self.uses(kind, body, "pod.name", EXPR_POD_NAME) and not is_pod:
                self.add(d, path, 12, "{{pod.name}} is only defined in pod templates; "
                         "template %s is a %s template" % (tname, ttype))
            for ref, hyphen in self.named_refs(kind, body, "outputs.parameters", EXPR_OUTPUT):
                if hyphen:
                    self.add(d, path, 12, "in an expression write outputs.parameters['%s']" % ref)
                elif ref not in out_params:
                    self.add(d, path, 12, "outputs.parameters.%s is not declared by template %s"
                             % (ref, tname))

        # Rule 7: steps / tasks references and DAG dependencies.
        self.check_step_refs(d, tmpl, p, step_groups, ttype)
        self.check_dag(d, tmpl, p, dag_tasks, ttype)

        # Rule 8: output parameters.
        for i, param in items(outputs, "parameters"):
            pp = p + ["outputs", "parameters", i]
            vf = param.get("valueFrom")
            if not _is_map(vf):
                self.add(d, pp, 8, "output parameter %s has no valueFrom" % json.dumps(param.get("name")))
                continue
            kinds = [k for k in VALUE_FROM_KINDS if vf.get(k) not in (None, "")]
            if not kinds:
                self.add(d, pp + ["valueFrom"], 8, "output parameter %s: valueFrom needs one of %s"
                         % (json.dumps(param.get("name")), ", ".join(VALUE_FROM_KINDS[:6])))
            elif len(kinds) > 1:
                self.add(d, pp + ["valueFrom"], 8, "output parameter %s: valueFrom has %d kinds (%s); "
                         "give exactly one" % (json.dumps(param.get("name")), len(kinds), ", ".join(kinds)))
            elif ttype in OUTPUT_KINDS_BY_TYPE and kinds[0] not in OUTPUT_KINDS_BY_TYPE[ttype]:
                self.add(d, pp + ["valueFrom", kinds[0]], 8, "valueFrom.%s is not valid in a %s template "
                         "(use %s)" % (kinds[0], ttype, " or ".join(OUTPUT_KINDS_BY_TYPE[ttype])))

    def check_node(self, d, node, np, available, what, seen):
        """A step or a DAG task: name, template reference, loops."""
        name = node.get("name")
        if not isinstance(name, str) or not name:
            self.add(d, np + ["name"], 2, "every %s needs a name" % what)
        else:
            self.check_field_name(d, np + ["name"], name, what)
            if name in seen:
                self.add(d, np + ["name"], 2, "%s name %s is not unique in its template"
                         % (what, json.dumps(name)))
            seen[name] = True
        self.check_params_list(d, node.get("arguments"), np + ["arguments"])

        refs = [k for k in ("template", "templateRef", "inline") if node.get(k) is not None]
        if len(refs) != 1:
            self.add(d, np, 4, "a %s needs exactly one of template, templateRef, inline (has %s)"
                     % (what, ", ".join(refs) or "none"))
        tmpl_name = node.get("template")
        if isinstance(tmpl_name, str) and available is not None and tmpl_name not in available:
            self.add(d, np + ["template"], 4, "template %s does not exist" % json.dumps(tmpl_name))
        ref = node.get("templateRef")
        if _is_map(ref):
            kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
            target = self.templates_named(kind, ref.get("name"))
            if target is None:
                self.report.note("%s: %s: templateRef to %s %s not among the linted files; not checked"
                                 % (d.file, json_path(np), kind, ref.get("name")))
            elif ref.get("template") not in {t.get("name") for _, t in items(target.spec, "templates")}:
                self.add(d, np + ["templateRef", "template"], 4, "%s %s has no template %s"
                         % (kind, ref.get("name"), json.dumps(ref.get("template"))))
        on_exit = node.get("onExit")
        if isinstance(on_exit, str) and available is not None and on_exit not in available:
            self.add(d, np + ["onExit"], 4, "onExit template %s does not exist" % json.dumps(on_exit))
        hooks = node.get("hooks")
        if _is_map(hooks) and available is not None:
            for hook_name, hook in hooks.items():
                if _is_map(hook) and isinstance(hook.get("template"), str) and hook["template"] not in available:
                    self.add(d, np + ["hooks", hook_name, "template"], 4,
                             "hook template %s does not exist" % json.dumps(hook["template"]))

        loops = [k for k in LOOP_KEYS if node.get(k) is not None]
        if len(loops) > 1:
            self.add(d, np, 10, "%s %s has %s; give at most one of withItems, withParam, withSequence"
                     % (what, json.dumps(name), " and ".join(loops)))
        wp = node.get("withParam")
        if isinstance(wp, str) and "{{" not in wp:
            try:
                ok = isinstance(json.loads(wp), list)
            except ValueError:
                ok = False
            if not ok:
                self.add(d, np + ["withParam"], 10, "a literal withParam must be a JSON array")

    # -- tag parsing --

    @staticmethod
    def refs(kind, body, prefix, expr_re, group_kind):
        """[(name or None for the whole map, hyphen?)] of prefix.name references."""
        out = []
        if kind == "simple":
            if body == prefix:
                out.append((None, False))
            else:
                rest = simple_ref(body, prefix)
                if rest is not None:
                    out.append((rest, False))
        else:
            for m in expr_re.finditer(body):
                if m.group(1) != group_kind:
                    continue
                if m.group(2) is not None:
                    if m.group(3):
                        out.append((m.group(2) + m.group(3), True))
                    else:
                        out.append((m.group(2), False))
                else:
                    out.append((m.group(5), False))
        return out

    @staticmethod
    def named_refs(kind, body, prefix, expr_re, first_segment=False):
        """[(name, hyphen?)] of prefix.name references whose expression form is
        expr_re (groups: dotted name, hyphenated rest, quote, quoted name). With
        first_segment, a simple tag's reference ends at its first dot
        (inputs.artifacts.NAME.path)."""
        out = []
        if kind == "simple":
            rest = simple_ref(body, prefix)
            if rest is not None:
                out.append((rest.split(".", 1)[0] if first_segment else rest, False))
        else:
            for m in expr_re.finditer(body):
                if m.group(1) is not None:
                    out.append((m.group(1) + (m.group(2) or ""), bool(m.group(2))))
                else:
                    out.append((m.group(4), False))
        return out

    @staticmethod
    def uses(kind, body, simple, expr_re):
        if kind == "simple":
            return body == simple
        return bool(expr_re.search(body))

    @staticmethod
    def node_refs(kind, body, root):
        """[(name, hyphen?)] of steps.X / tasks.X references; steps.name itself is a variable."""
        out = []
        if kind == "simple":
            rest = simple_ref(body, root)
            if rest is not None and rest != "name":
                out.append((rest.split(".", 1)[0], False))
        else:
            for m in EXPR_NODE.finditer(body):
                if m.group(1) != root:
                    continue
                if m.group(2) is not None:
                    if m.group(2) == "name" and not m.group(3):
                        continue
                    out.append((m.group(2) + (m.group(3) or ""), bool(m.group(3))))
                else:
                    out.append((m.group(5), False))
        return out

    # -- rule 7 --

    def check_step_refs(self, d, tmpl, p, step_groups, ttype):
        group_of = {}
        for gi, group in step_groups:
            for _, step in group:
                if isinstance(step.get("name"), str):
                    group_of.setdefault(step["name"], gi)
        # References from inside the steps: an earlier group only.
        for gi, group in step_groups:
            for si, step in group:
                for path, kind, body in iter_tags(step, p + ["steps", gi, si], skip=("inline",)):
                    for ref, hyphen in self.node_refs(kind, body, "steps"):
                        if hyphen:
                            self.add(d, path, 7, "in an expression write steps['%s']" % ref)
                        elif ref not in group_of:
                            self.add(d, path, 7, "steps.%s names no step of this template" % ref)
                        elif group_of[ref] >= gi:
                            self.add(d, path, 7, "steps.%s is in step group %d, not earlier than "
                                     "this step's group %d" % (ref, group_of[ref], gi))
        # References from the rest of the template (outputs, ...): any of its steps.
        rest = {k: v for k, v in tmpl.items() if k != "steps"}
        for path, kind, body in iter_tags(rest, p, skip=("inline",)):
            for ref, hyphen in self.node_refs(kind, body, "steps"):
                if ttype != "steps":
                    self.add(d, path, 7, "steps.%s: template %s is not a steps template"
                             % (ref, json.dumps(tmpl.get("name", "(inline)"))))
                elif hyphen:
                    self.add(d, path, 7, "in an expression write steps['%s']" % ref)
                elif ref not in group_of:
                    self.add(d, path, 7, "steps.%s names no step of this template" % ref)

    def check_dag(self, d, tmpl, p, tasks, ttype):
        names = {t.get("name"): ti for ti, t in tasks if isinstance(t.get("name"), str)}
        deps = {}
        for ti, task in tasks:
            tp = p + ["dag", "tasks", ti]
            direct = []
            dl = task.get("dependencies")
            if _is_list(dl):
                for j, dep in enumerate(dl):
                    if dep not in names:
                        self.add(d, tp + ["dependencies", j], 7, "dependency %s is not a task of this DAG"
                                 % json.dumps(dep))
                    else:
                        direct.append(dep)
            depends = task.get("depends")
            if isinstance(depends, str):
                for word in re.findall(r"[A-Za-z0-9][-A-Za-z0-9]*(?:\.[A-Za-z]+)?", depends):
                    dep = word.split(".", 1)[0]
                    if dep not in names:
                        self.add(d, tp + ["depends"], 7, "depends names %s, not a task of this DAG"
                                 % json.dumps(dep))
                    else:
                        direct.append(dep)
            if isinstance(task.get("name"), str):
                deps[task["name"]] = direct

        # Cycles, reported once per task on one.
        state = {}

        def ancestors_of(n, stack):
            if state.get(n) == "done":
                return
            state[n] = "visiting"
            for dep in deps.get(n, []):
                if state.get(dep) == "visiting":
                    cycle = stack[stack.index(dep):] + [dep] if dep in stack else [n, dep]
                    self.add(d, p + ["dag", "tasks", names[n]], 7, "dependency cycle: %s" % " -> ".join(cycle))
                else:
                    ancestors_of(dep, stack + [dep])
            state[n] = "done"

        for n in deps:
            ancestors_of(n, [n])

        def closure(n):
            seen, todo = set(), list(deps.get(n, []))
            while todo:
                x = todo.pop()
                if x not in seen:
                    seen.add(x)
                    todo.extend(deps.get(x, []))
            return seen

        for ti, task in tasks:
            anc = closure(task.get("name"))
            for path, kind, body in iter_tags(task, p + ["dag", "tasks", ti], skip=("inline",)):
                for ref, hyphen in self.node_refs(kind, body, "tasks"):
                    if hyphen:
                        self.add(d, path, 7, "in an expression write tasks['%s']" % ref)
                    elif ref not in names:
                        self.add(d, path, 7, "tasks.%s names no task of this DAG" % ref)
                    elif ref not in anc:
                        self.add(d, path, 7, "tasks.%s is not a dependency of task %s"
                                 % (ref, json.dumps(task.get("name"))))
        rest = {k: v for k, v in tmpl.items() if k != "dag"}
        for path, kind, body in iter_tags(rest, p, skip=("inline",)):
            for ref, hyphen in self.node_refs(kind, body, "tasks"):
                if ttype != "dag":
                    self.add(d, path, 7, "tasks.%s: template %s is not a DAG template"
                             % (ref, json.dumps(tmpl.get("name", "(inline)"))))
                elif not hyphen and ref not in names:
                    self.add(d, path, 7, "tasks.%s names no task of this DAG" % ref)

    # -- rules 9, 11 --

    def check_retry_strategies(self, d, node, path):
        if _is_map(node):
            for k, v in node.items():
                if k == "retryStrategy" and _is_map(v):
                    rp = path + [k]
                    policy = v.get("retryPolicy")
                    if policy is not None and policy not in RETRY_POLICIES:
                        self.add(d, rp + ["retryPolicy"], 9, "retryPolicy %s is not one of %s"
                                 % (json.dumps(policy), ", ".join(RETRY_POLICIES)))
                    backoff = v.get("backoff")
                    if _is_map(backoff) and "maxDuration" in backoff:
                        self.add(d, rp + ["backoff", "maxDuration"], 11,
                                 "no backoff.maxDuration: it counts from the first attempt and "
                                 "becomes the pod's deadline, so a long attempt gets no usable "
                                 "retry (DESIGN.md §2); use backoff.cap on Argo >= 3.7")
                if k != "status":
                    self.check_retry_strategies(d, v, path + [k])
        elif _is_list(node):
            for i, v in enumerate(node):
                self.check_retry_strategies(d, v, path + [i])

    # -- rule 6 --

    def check_workflow_params(self, d, declared):
        doc = {k: v for k, v in d.doc.items() if k != "status"}
        for path, kind, body in iter_tags(doc, d.base):
            for ref, hyphen in self.refs(kind, body, "workflow.parameters", EXPR_PARAM, "workflow"):
                if hyphen:
                    self.add(d, path, 6, "in an expression write workflow.parameters['%s'] "
                             "(expr reads '-' as minus)" % ref)
                elif ref is not None and ref != "json" and ref not in declared:
                    self.add(d, path, 6, "workflow.parameters.%s is not declared in spec.arguments"
                             % ref)


def expand(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.endswith((".yaml", ".yml")):
                        out.append(os.path.join(root, f))
        elif os.path.exists(p):
            out.append(p)
        else:
            raise UsageError("no such file: %s" % p)
    return out


def main(argv):
    parser = argparse.ArgumentParser(
        prog="lint-workflows.py",
        description="Offline lint of Argo Workflows manifests against Argo's JSON schema "
                    "and the rules of `argo lint` (see the module docstring).")
    parser.add_argument("--schema", default=os.environ.get("ARGO_SCHEMA"),
                        help="Argo's api/jsonschema/schema.json (default: $ARGO_SCHEMA)")
    parser.add_argument("paths", nargs="+", metavar="FILE", help="YAML files or directories")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        if not args.schema:
            raise UsageError("no schema: give --schema PATH or set ARGO_SCHEMA to Argo's "
                             "api/jsonschema/schema.json for your Argo version")
        validators = load_schema(args.schema)
        linter = Linter(validators)
        for path in expand(args.paths):
            linter.add_file(path)
    except UsageError as e:
        sys.stderr.write("lint-workflows: %s\n" % e)
        return 2
    report = linter.run()
    for line in report.findings:
        print(line)
    for note in report.notes:
        sys.stderr.write("lint-workflows: note: %s\n" % note)
    sys.stderr.write("lint-workflows: %d file(s), %d Argo document(s), %d finding(s)\n"
                     % (linter.files, linter.documents, len(report.findings)))
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
