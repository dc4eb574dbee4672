#!/usr/bin/python3
"""Renders one pod template of an Argo WorkflowTemplate into the Pod that Argo's
workflow controller would create for it (emissary executor, v3.4 to v4.1), so that
the pod can run under `podman kube play`.

    render_pod.py TEMPLATE_FILE TEMPLATE_NAME [--workflow FILE] [-p NAME=VALUE]...
                  [-i NAME=VALUE]... [--retries N] [--pod-name NAME] [--secret FILE]
                  [--host-network] [--unique-volumes] [--listen CONTAINER=ADDR]

What the controller does, done here (workflow/controller/workflowpod.go):
  - the workflow's parameters (the template's spec.arguments, then the Workflow's,
    then -p) and the template's inputs (-i) replace {{workflow.parameters.x}},
    {{inputs.parameters.x}}, {{retries}} (only where a retryStrategy applies),
    {{pod.name}}, {{workflow.name}}, {{workflow.uid}}, {{workflow.namespace}};
    anything else left in {{...}} is an error, as it would be there;
  - containers: main, then the sidecars; the template's init containers; the pod's
    security context, service account, labels and the node-name annotation;
  - the emptyDir var-run-argo mounted at /var/run/argo in every container, and the
    environment Argo adds to each: ARGO_CONTAINER_NAME, ARGO_NODE_ID,
    ARGO_INCLUDE_SCRIPT_OUTPUT, ARGO_DEADLINE (Go's zero time without a deadline),
    ARGO_WORKFLOW_NAME, ARGO_PROGRESS_FILE and its tick durations, and
    ARGO_TERMINATION_GRACE_PERIOD_SECONDS when the pod sets a grace period;
  - the template's podSpecPatch, as a strategic merge (containers merged by name).
What the kubelet does: env valueFrom.secretKeyRef is resolved from --secret (a Secret
manifest), honouring `optional`.

Not rendered: Argo's own `init` and `wait` containers and the emissary wrapper of each
command (/var/run/argo/argoexec emissary -- CMD): no argoexec runs here. The caller
plays their part: it reads the outputs after main exits and signals the sidecars.

Adjustments for podman, each an option, because a pod under podman differs from one
on a node:
  --host-network    the pod shares the host's network (to reach services on loopback)
  --unique-volumes  podman 4.3 names an emptyDir volume after the pod's volume name and
                    shares it between pods: prefix each with the pod name
  --listen C=ADDR   on the host network pods share one loopback: give container C's
                    --listen= argument its own address
"""

import argparse
import base64
import copy
import json
import re
import sys

import yaml

ARGO_PROGRESS_FILE = "/var/run/argo/progress"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
TAG = re.compile(r"{{\s*([^{}]*?)\s*}}")


class RenderError(Exception):
    pass


def _load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def _find_template(doc, name):
    for t in doc.get("spec", {}).get("templates", []):
        if t.get("name") == name:
            return t
    raise RenderError("template %r not found" % name)


def _parameters(doc):
    out = {}
    for p in (doc.get("spec", {}).get("arguments", {}) or {}).get("parameters", []) or []:
        if "value" in p:
            out[p["name"]] = str(p["value"])
        else:
            out.setdefault(p["name"], None)
    return out


def _substitute(value, variables, where):
    """Replaces {{...}} tags in every string of value (a YAML tree)."""
    if isinstance(value, dict):
        return {k: _substitute(v, variables, "%s.%s" % (where, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables, "%s[%d]" % (where, i)) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(m):
        name = m.group(1)
        if name.startswith("="):
            raise RenderError("%s: expression tags are not rendered here: %s" % (where, m.group(0)))
        if name not in variables:
            raise RenderError("%s: unresolved %s" % (where, m.group(0)))
        return variables[name]

    return TAG.sub(replace, value)


def _strategic_merge(base, patch):
    """Kubernetes' strategic merge for a PodSpec, as far as a patch here needs it:
    maps merge recursively, containers and initContainers merge by name, other lists
    and scalars are replaced."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if key in ("containers", "initContainers", "ephemeralContainers") and isinstance(value, list):
            merged = copy.deepcopy(out.get(key, []))
            for item in value:
                for i, existing in enumerate(merged):
                    if existing.get("name") == item.get("name"):
                        merged[i] = _strategic_merge(existing, item)
                        break
                else:
                    merged.append(copy.deepcopy(item))
            out[key] = merged
        elif key in out:
            out[key] = _strategic_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _resolve_env(container, secrets):
    """The kubelet's part: secretKeyRef values from the given Secrets."""
    env = []
    for var in container.get("env", []) or []:
        ref = (var.get("valueFrom") or {}).get("secretKeyRef")
        if ref is None:
            env.append(var)
            continue
        data = secrets.get(ref["name"])
        if data is None or ref["key"] not in data:
            if ref.get("optional"):
                continue
            raise RenderError("container %s: env %s: secret %s has no key %s"
                              % (container["name"], var["name"], ref["name"], ref["key"]))
        env.append({"name": var["name"], "value": data[ref["key"]]})
    container["env"] = env


def load_secrets(path):
    """Secret manifests (stringData, or base64 data) as {name: {key: value}}."""
    out = {}
    for doc in _load_yaml_docs(path):
        if doc.get("kind") != "Secret":
            continue
        values = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
        values.update({k: str(v) for k, v in (doc.get("stringData") or {}).items()})
        out[doc["metadata"]["name"]] = values
    return out


def render(template_file, template_name, *, workflow_file=None, parameters=None, inputs=None,
           retries=0, pod_name="pod", workflow_name="multi-task-processor-test",
           workflow_uid="00000000-0000-0000-0000-000000000000", namespace="argo",
           secrets=None, host_network=False, unique_volumes=False, listen=None,
           deadline=GO_ZERO_TIME):
    """Returns (pod, outputs): the Pod manifest as a dict and the template's output
    parameters as [{"name", "path", "default"}] (default None when there is none)."""
    docs = [d for d in _load_yaml_docs(template_file)
            if d.get("kind") in ("WorkflowTemplate", "ClusterWorkflowTemplate", "Workflow")]
    if not docs:
        raise RenderError("%s: no WorkflowTemplate" % template_file)
    wft = docs[0]
    spec = wft["spec"]
    tmpl = copy.deepcopy(_find_template(wft, template_name))
    if "container" not in tmpl and "script" not in tmpl:
        raise RenderError("template %r is not a pod template" % template_name)

    params = _parameters(wft)
    if workflow_file:
        for doc in _load_yaml_docs(workflow_file):
            if doc.get("kind") == "Workflow":
                params.update({k: v for k, v in _parameters(doc).items() if v is not None})
    params.update(parameters or {})
    missing = sorted(k for k, v in params.items() if v is None)
    if missing:
        raise RenderError("workflow parameters without a value: %s" % ", ".join(missing))

    given = dict(inputs or {})
    input_values = {}
    for p in (tmpl.get("inputs", {}) or {}).get("parameters", []) or []:
        if p["name"] in given:
            input_values[p["name"]] = str(given.pop(p["name"]))
        elif "value" in p or "default" in p:
            input_values[p["name"]] = str(p.get("value", p.get("default")))
        else:
            raise RenderError("input parameter %s of %s has no value" % (p["name"], template_name))
    if given:
        raise RenderError("%s declares no inputs %s" % (template_name, ", ".join(sorted(given))))

    variables = {"workflow.parameters." + k: v for k, v in params.items()}
    variables.update({"inputs.parameters." + k: v for k, v in input_values.items()})
    variables.update({"pod.name": pod_name, "workflow.name": workflow_name,
                      "workflow.uid": workflow_uid, "workflow.namespace": namespace})
    if tmpl.get("retryStrategy") is not None:
        variables["retries"] = str(retries)

    # Only what becomes the pod is substituted: outputs and metrics are the
    # controller's, evaluated after the pod ran.
    outputs = [{"name": p["name"], "path": p["valueFrom"]["path"],
                "default": p["valueFrom"].get("default")}
               for p in (tmpl.get("outputs", {}) or {}).get("parameters", []) or []
               if "path" in (p.get("valueFrom") or {})]
    pod_fields = {k: tmpl.get(k) for k in ("container", "script", "sidecars", "initContainers",
                                             "volumes", "podSpecPatch", "securityContext",
                                             "serviceAccountName", "metadata")}
    pod_fields = _substitute(pod_fields, variables, template_name)

    main = copy.deepcopy(pod_fields["container"] or pod_fields["script"])
    main.setdefault("name", "main")
    containers = [main] + copy.deepcopy(pod_fields["sidecars"] or [])
    init_containers = copy.deepcopy(pod_fields["initContainers"] or [])

    node_id = pod_name
    labels = {"workflows.argoproj.io/workflow": workflow_name,
              "workflows.argoproj.io/completed": "false"}
    labels.update((spec.get("podMetadata") or {}).get("labels", {}) or {})
    labels.update(((pod_fields["metadata"] or {}).get("labels")) or {})
    annotations = {"workflows.argoproj.io/node-name": "%s.%s" % (workflow_name, template_name)}
    annotations.update(((pod_fields["metadata"] or {}).get("annotations")) or {})

    pod_spec = {"restartPolicy": "Never"}
    service_account = pod_fields["serviceAccountName"] or spec.get("serviceAccountName")
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    security = pod_fields["securityContext"] or spec.get("securityContext")
    if security:
        pod_spec["securityContext"] = copy.deepcopy(security)
    pod_spec["volumes"] = [{"name": "var-run-argo", "emptyDir": {}}] + copy.deepcopy(
        pod_fields["volumes"] or [])
    if init_containers:
        pod_spec["initContainers"] = init_containers
    pod_spec["containers"] = containers

    argo_env = [{"name": "ARGO_NODE_ID", "value": node_id},
                {"name": "ARGO_INCLUDE_SCRIPT_OUTPUT", "value": "false"},
                {"name": "ARGO_DEADLINE", "value": deadline},
                {"name": "ARGO_WORKFLOW_NAME", "value": workflow_name},
                {"name": "ARGO_PROGRESS_FILE", "value": ARGO_PROGRESS_FILE},
                {"name": "ARGO_PROGRESS_PATCH_TICK_DURATION", "value": "1m0s"},
                {"name": "ARGO_PROGRESS_FILE_TICK_DURATION", "value": "3s"}]
    var_run_argo = {"name": "var-run-argo", "mountPath": "/var/run/argo"}
    for c in init_containers + containers:
        c["env"] = (c.get("env") or []) + [{"name": "ARGO_CONTAINER_NAME", "value": c["name"]}] + argo_env
        c["volumeMounts"] = (c.get("volumeMounts") or []) + [dict(var_run_argo)]

    if pod_fields["podSpecPatch"]:
        patch = yaml.safe_load(pod_fields["podSpecPatch"])
        if not isinstance(patch, dict):
            raise RenderError("podSpecPatch of %s is not a mapping" % template_name)
        pod_spec = _strategic_merge(pod_spec, patch)
    grace = pod_spec.get("terminationGracePeriodSeconds")
    if grace is not None:
        for c in pod_spec["containers"]:
            c["env"].append({"name": "ARGO_TERMINATION_GRACE_PERIOD_SECONDS", "value": str(grace)})

    for c in pod_spec.get("initContainers", []) + pod_spec["containers"]:
        _resolve_env(c, secrets or {})

    if host_network:
        pod_spec["hostNetwork"] = True
    if unique_volumes:
        renamed = {v["name"]: "%s-%s" % (pod_name, v["name"])
                   for v in pod_spec["volumes"] if "emptyDir" in v}
        for v in pod_spec["volumes"]:
            v["name"] = renamed.get(v["name"], v["name"])
        for c in pod_spec.get("initContainers", []) + pod_spec["containers"]:
            for m in c.get("volumeMounts", []):
                m["name"] = renamed.get(m["name"], m["name"])
    for name, address in (listen or {}).items():
        found = False
        for c in pod_spec["containers"]:
            if c["name"] != name:
                continue
            args = c.get("args") or []
            for i, a in enumerate(args):
                if a.startswith("--listen="):
                    args[i] = "--listen=" + address
                    found = True
        if not found:
            raise RenderError("container %s has no --listen= argument" % name)

    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": pod_name, "labels": labels, "annotations": annotations},
           "spec": pod_spec}
    return pod, outputs


def _pairs(items, what):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise RenderError("%s %r: want NAME=VALUE" % (what, item))
        k, v = item.split("=", 1)
        out[k] = v
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("template_file")
    ap.add_argument("template_name")
    ap.add_argument("--workflow", help="a Workflow manifest whose arguments override the template's")
    ap.add_argument("-p", "--parameter", action="append", help="workflow parameter NAME=VALUE")
    ap.add_argument("-i", "--input", action="append", help="input parameter NAME=VALUE")
    ap.add_argument("--retries", type=int, default=0, help="the attempt, {{retries}}")
    ap.add_argument("--pod-name", default="pod")
    ap.add_argument("--secret", help="Secret manifest for secretKeyRef")
    ap.add_argument("--host-network", action="store_true")
    ap.add_argument("--unique-volumes", action="store_true")
    ap.add_argument("--listen", action="append", help="CONTAINER=ADDR")
    ap.add_argument("--outputs", help="write the output parameters (JSON) here")
    args = ap.parse_args(argv)
    try:
        pod, outputs = render(
            args.template_file, args.template_name, workflow_file=args.workflow,
            parameters=_pairs(args.parameter, "-p"), inputs=_pairs(args.input, "-i"),
            retries=args.retries, pod_name=args.pod_name,
            secrets=load_secrets(args.secret) if args.secret else {},
            host_network=args.host_network, unique_volumes=args.unique_volumes,
            listen=_pairs(args.listen, "--listen"))
    except (RenderError, OSError, yaml.YAMLError) as e:
        sys.stderr.write("render_pod: %s\n" % e)
        return 2
    yaml.safe_dump(pod, sys.stdout, sort_keys=False, width=1 << 20)
    if args.outputs:
        with open(args.outputs, "w", encoding="utf-8") as f:
            json.dump(outputs, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
