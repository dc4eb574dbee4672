#!/usr/bin/python3
"""The Workflow object of a million tasks stays small (ctest: workflow_size).

    workflow_size_test.py --step TM_STEP --sidecar TM_SIDECAR [--tasks N] [-p NAME=VALUE]...
                          [--report FILE]

What it builds, at the template's default max-shards and parallelism (or those given
with -p, as to `argo submit`):
  1. the Workflow that `argo submit workflows/multi-task-processing.yaml -p state-key=K`
     creates, and the same object once the controller merged the WorkflowTemplate into
     it (status.storedWorkflowTemplateSpec), as JSON the way the API server stores it;
  2. init's outputs, for real: `tm-sidecar submit` records N tasks in SQLite, then
     `tm-step init` (its arguments rendered from the template's init pod by
     tests/pods/render_pod.py: task-list empty) runs by state key beside a real
     `tm-sidecar`;
  3. the node status Argo would hold at the end of the workflow (workflow/controller
     steps.go, operator.go, v3.4 to v4.1): one node per step group, lane, retry and pod,
     every field of NodeStatus a finished node carries, each shard's real summary
     output, long realistic names; once with every shard succeeding at its first
     attempt, and once with every shard using all four attempts.

And asserts: the Workflow spec (submitted, and merged) under 64 KiB; init's outputs
small; the fan-out's node status, and the whole Workflow object, under 1 MiB in both
cases. Argo itself does not run here: the node shapes follow its source, and
docs/argo.md ("Size budget") gives these numbers and their sources.

Exit status: 0 passed, 1 an assertion failed, 2 usage or a step that could not run.
"""

import argparse
import copy
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "pods"))
import render_pod  # noqa: E402  (tests/pods/, beside this directory)

TEMPLATE = os.path.join(REPO, "workflows", "multi-task-processing-template.yaml")
WORKFLOW = os.path.join(REPO, "workflows", "multi-task-processing.yaml")
GOLDEN = os.path.join(REPO, "tests", "golden")

KIB, MIB = 1024, 1024 * 1024
SPEC_LIMIT = 64 * KIB
STATUS_LIMIT = MIB  # Argo's default maxWorkflowSize, before it compresses node status
INIT_OUTPUTS_LIMIT = 4 * KIB

# Realistic long values: a generated workflow name, a state key of 63 bytes, an EKS
# node name, timestamps and durations of a long run.
WF_NAME = "multi-task-processor-x7k2p"
NAMESPACE = "taskmaster"
UID = "6f1c2d3e-4a5b-4c6d-8e7f-901234567890"
STATE_KEY = "reprocess-customer-events-2026-11-29-eu-west-1-partition-000017"
HOST = "ip-10-120-134-201.eu-west-1.compute.internal"
STARTED, FINISHED = "2026-11-29T01:02:03Z", "2026-11-29T09:08:07Z"
MAX_ATTEMPTS = 4  # process-shard: retryStrategy.limit 3


class Failure(Exception):
    pass


def dumps(obj):
    """JSON as the API server stores a custom resource: compact."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def size(obj):
    return len(dumps(obj).encode())


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


# ---- 1. The Workflow object --------------------------------------------------------

def submitted_workflow(wf_doc, parameters):
    """What `argo submit FILE -p k=v` creates: the file, its parameters set or
    appended (argo's util.ApplySubmitOpts), then the API server's metadata."""
    wf = copy.deepcopy(wf_doc)
    params = wf["spec"].setdefault("arguments", {}).setdefault("parameters", [])
    for name, value in parameters.items():
        for p in params:
            if p["name"] == name:
                p["value"] = value
                break
        else:
            params.append({"name": name, "value": value})
    meta = wf["metadata"]
    meta.update({"name": WF_NAME, "namespace": NAMESPACE, "uid": UID, "resourceVersion": "123456789",
                 "generation": 42, "creationTimestamp": STARTED})
    meta.setdefault("labels", {}).update({
        "workflows.argoproj.io/completed": "true", "workflows.argoproj.io/phase": "Succeeded",
        "workflows.argoproj.io/creator": "system-serviceaccount-taskmaster-argo-server"})
    return wf


def merged_spec(wf, wft):
    """status.storedWorkflowTemplateSpec: the WorkflowTemplate's spec with the
    Workflow's arguments merged in by name (Argo's JoinWorkflowSpec)."""
    spec = copy.deepcopy(wft["spec"])
    params = spec.setdefault("arguments", {}).setdefault("parameters", [])
    for p in wf["spec"]["arguments"]["parameters"]:
        for q in params:
            if q["name"] == p["name"]:
                q.update(p)
                break
        else:
            params.append(copy.deepcopy(p))
    spec["workflowTemplateRef"] = copy.deepcopy(wf["spec"]["workflowTemplateRef"])
    return spec


def parameter_values(spec):
    return {p["name"]: str(p.get("value", "")) for p in spec["arguments"]["parameters"]}


# ---- 2. init, for real ----------------------------------------------------------------

def init_argv(step, parameters):
    """tm-step's arguments in the template's init pod, as rendered for these
    workflow parameters (task-list empty: the list recorded under the state key)."""
    secrets = {"taskmaster-store": {"postgres-dsn": "postgresql://unused"}}
    pod, _ = render_pod.render(TEMPLATE, "init", workflow_file=WORKFLOW, parameters=parameters,
                               inputs={"state-key": STATE_KEY}, secrets=secrets)
    return [step] + list(pod["spec"]["containers"][0]["args"])


def run_init(step, sidecar, argv, max_shards, tasks, workdir):
    """A long list as a user runs it: `tm-sidecar submit` records it in a fresh
    SQLite store, then the init pod's two programs run by state key alone.
    Returns ({output name: content}, seconds, the logs)."""
    db = "sqlite:" + os.path.join(workdir, "state.db")
    list_file = os.path.join(workdir, "tasks.json")
    with open(list_file, "w", encoding="utf-8") as f:
        f.write(dumps(["task-%07d" % i for i in range(tasks)]))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TM_READY_TIMEOUT": "60"}
    start = time.monotonic()
    submit = subprocess.run([sidecar, "submit", "--store", db, "--task-list", "@" + list_file,
                             "--state-key", STATE_KEY, "--max-shards", str(max_shards), "-o", "json"],
                            env=env, capture_output=True, text=True, timeout=300)
    if submit.returncode != 0:
        raise Failure("tm-sidecar submit of %d tasks exited %d:\n%s" % (
            tasks, submit.returncode, submit.stderr[-4000:]))
    work = os.path.join(workdir, "work")
    os.makedirs(work)
    with open(os.path.join(workdir, "sidecar.err"), "w") as side_err:
        side = subprocess.Popen(
            [sidecar, "--store", db, "--role", "init", "--state-key", STATE_KEY, "--work-dir", work,
             "--listen", "127.0.0.1:0", "--port-file", os.path.join(workdir, "port")],
            env=env, stdout=subprocess.DEVNULL, stderr=side_err)
        try:
            step_run = subprocess.run(argv + ["--work-dir", work, "--state-key", STATE_KEY], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      timeout=300)
        finally:
            side.send_signal(signal.SIGTERM)
            side_code = side.wait(timeout=60)
    seconds = time.monotonic() - start
    if step_run.returncode != 0 or side_code != 0:
        raise Failure("init of %d tasks: tm-step exited %d, tm-sidecar %d:\n%s" % (
            tasks, step_run.returncode, side_code, step_run.stderr[-4000:]))
    outputs = {}
    out_dir = os.path.join(work, "outputs")
    for name in sorted(os.listdir(out_dir)):
        with open(os.path.join(out_dir, name), encoding="utf-8") as f:
            text = f.read()
            outputs[name] = text[:-1] if text.endswith("\n") else text  # as Argo trims it
    return outputs, seconds, submit.stderr + step_run.stderr


def lane_items(template_spec, outputs):
    """What the lane template's withParam gives each lane, evaluated as expr would
    (asInt, integer arithmetic, a string slice), then parsed as Argo parses a
    withParam: a JSON array."""
    lane = next(t for t in template_spec["templates"] if t["name"] == "lane")
    expression = lane["steps"][0][0]["withParam"]
    want = ("{{=inputs.parameters.plan[asInt(inputs.parameters.lane) * asInt(inputs.parameters.width):"
            "(asInt(inputs.parameters.lane) + 1) * asInt(inputs.parameters.width)]}}")
    if expression != want:
        raise Failure("the lane's withParam changed; update this emulation: %s" % expression)
    plan, width = outputs["lane-plan"], int(outputs["lane-width"])
    return [json.loads(plan[l * width:(l + 1) * width]) for l in json.loads(outputs["lanes"])]


# ---- 3. Node status ---------------------------------------------------------------------

def node_id(name):
    """wf.NodeID: the workflow's name and the FNV-1a 32 hash of the node name."""
    h = 0x811C9DC5
    for b in name.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "%s-%d" % (WF_NAME, h)


class Nodes:
    def __init__(self):
        self.nodes = {}

    def add(self, name, display, kind, boundary, template=None, **fields):
        node = {"id": node_id(name), "name": name, "displayName": display, "type": kind}
        if template:
            node.update({"templateName": template, "templateScope": "local/" + WF_NAME})
        node.update({"phase": fields.pop("phase", "Succeeded")})
        if boundary:
            node["boundaryID"] = node_id(boundary)
        node.update({"startedAt": STARTED, "finishedAt": FINISHED})
        node.update(fields)
        self.nodes[node["id"]] = node
        return node

    def child(self, parent, child):
        parent.setdefault("children", []).append(child["id"])


def param(name, value, path=None, default=None):
    p = {"name": name, "value": value}
    if path:
        p["valueFrom"] = {"path": path}
        if default is not None:
            p["valueFrom"]["default"] = default
    return p


def golden(name):
    with open(os.path.join(GOLDEN, name), encoding="utf-8") as f:
        return json.loads(f.read())


def shard_summary(shard, attempt, total, failed):
    """The shard's summary output as the sidecar writes it: summary-shard.json's
    keys and order, realistic values, "durable" last."""
    s = golden("summary-shard.json")
    s.update({"workflow_id": STATE_KEY, "shard": shard, "attempt": attempt, "total": total,
              "succeeded": total - failed, "failed": failed, "final_failures": failed * (attempt == 3),
              "duration_ms": 28800000 + shard, "durable": True})
    return dumps(s)


def pod_fields(attempt, progress, outputs, failed):
    f = {"progress": progress, "resourcesDuration": {"cpu": 57600, "memory": 7372800},
         "estimatedDuration": 28800, "hostNodeName": HOST, "taskResultSynced": True,
         "outputs": outputs}
    if failed:
        f["message"] = "Error (exit code 1)"
    if attempt > 0:
        f["nodeFlag"] = {"retried": True}
    return f


def pod_template(nodes, boundary, retry_name, display, template, inputs, outputs_of, attempts,
                 progress):
    """A step with a retryStrategy: its Retry node and one Pod node per attempt.
    outputs_of(attempt) gives (outputs, failed). Returns (retry node, last pod)."""
    last_outputs, last_failed = outputs_of(attempts - 1)
    retry = nodes.add(retry_name, display, "Retry", boundary, template, inputs=inputs,
                      outputs=last_outputs, progress=progress,
                      resourcesDuration={"cpu": 57600 * attempts, "memory": 7372800 * attempts},
                      estimatedDuration=28800,
                      **({"phase": "Failed", "message": "No more retries left"} if last_failed else {}))
    pod = None
    for a in range(attempts):
        outputs, failed = outputs_of(a)
        pod = nodes.add("%s(%d)" % (retry_name, a), "%s(%d)" % (display, a), "Pod", boundary, template,
                        inputs=inputs, **({"phase": "Failed"} if failed else {}),
                        **pod_fields(a, progress, outputs, failed))
        nodes.child(retry, pod)
    return retry, pod


def step_group(nodes, parent_name, index, boundary):
    return nodes.add("%s[%d]" % (parent_name, index), "[%d]" % index, "StepGroup", boundary,
                     templateScope="local/" + WF_NAME)


def simulate(init_outputs, lanes, batch, tasks, attempts):
    """Every node of the finished workflow; returns (all nodes, fan-out node ids)."""
    nodes = Nodes()
    total = "%d/%d" % (tasks, tasks)
    root = nodes.add(WF_NAME, WF_NAME, "Steps", None, "main", progress=total)
    key_in = {"parameters": [param("state-key", STATE_KEY)]}

    sg0 = step_group(nodes, WF_NAME, 0, WF_NAME)
    nodes.child(root, sg0)
    init_out = {"parameters": [param(n, init_outputs[n], "/tm/work/outputs/" + n,
                                     {"batch-size": "0", "task-count": "0", "summary": "{}"}.get(n))
                               for n in ("shards", "batch-size", "task-count", "lanes", "lane-plan",
                                         "lane-width", "summary")], "exitCode": "0"}
    init_retry, init_pod = pod_template(nodes, WF_NAME, sg0["name"] + ".init", "init", "init", key_in,
                                        lambda a: (init_out, False), 1, "0/0")
    nodes.child(sg0, init_retry)

    sg1 = step_group(nodes, WF_NAME, 1, WF_NAME)
    nodes.child(init_pod, sg1)
    sg2 = step_group(nodes, WF_NAME, 2, WF_NAME)
    fan_out = {sg1["id"]}
    for l, shards in enumerate(lanes):
        lane_name = "%s.process(%d:%d)" % (sg1["name"], l, l)
        lane_progress = "%d/%d" % (len(shards) * batch, len(shards) * batch)
        lane = nodes.add(lane_name, "process(%d:%d)" % (l, l), "Steps", WF_NAME, "lane",
                         progress=lane_progress,
                         resourcesDuration={"cpu": 57600 * len(shards), "memory": 7372800 * len(shards)},
                         inputs={"parameters": [param("state-key", STATE_KEY), param("lane", str(l)),
                                                param("plan", init_outputs["lane-plan"]),
                                                param("width", init_outputs["lane-width"])]})
        nodes.child(sg1, lane)
        lane_sg = step_group(nodes, lane_name, 0, lane_name)
        nodes.child(lane, lane_sg)
        for i, shard in enumerate(shards):
            size_k = min(batch, tasks - shard * batch)

            def outputs_of(a, shard=shard, size_k=size_k):
                failed = a < attempts - 1 or attempts == MAX_ATTEMPTS
                return ({"parameters": [param("summary", shard_summary(shard, a, size_k, size_k if failed else 0),
                                              "/tm/work/outputs/summary", "{}")],
                         "exitCode": "1" if failed else "0"}, failed)

            retry, last = pod_template(
                nodes, lane_name, "%s.shard(%d:%d)" % (lane_sg["name"], i, shard), "shard(%d:%d)" % (i, shard),
                "process-shard",
                {"parameters": [param("state-key", STATE_KEY), param("shard", str(shard))]},
                outputs_of, attempts, "%d/%d" % (size_k, size_k))
            nodes.child(lane_sg, retry)
            lane.setdefault("outboundNodes", []).append(last["id"])
            nodes.child(last, sg2)  # the next step group hangs off every outbound node
        fan_out.add(lane["id"])
        fan_out.add(lane_sg["id"])
    fan_out |= {n["id"] for n in nodes.nodes.values() if n["name"].startswith(sg1["name"] + ".")}

    finalize = golden("summary-finalize.json")
    failed_ids = ["task-%07d" % k for k in range(100)]
    finalize.update({"workflow_id": STATE_KEY, "total": tasks, "failed_tasks": failed_ids, "durable": True})
    fin_out = {"parameters": [param("summary", dumps(finalize), "/tm/work/outputs/summary", "{}")] +
               [param(n, str(tasks), "/tm/work/outputs/" + n) for n in ("total", "succeeded", "failed",
                                                                        "cancelled")] +
               [param("failed-tasks", dumps(failed_ids), "/tm/work/outputs/failed-tasks")],
               "exitCode": "0"}
    nodes.child(root, sg2)
    fin_retry, fin_pod = pod_template(nodes, WF_NAME, sg2["name"] + ".finalize", "finalize", "finalize",
                                      key_in, lambda a: (fin_out, False), 1, "0/0")
    nodes.child(sg2, fin_retry)
    root["outboundNodes"] = [fin_pod["id"]]

    exit_name = WF_NAME + ".onExit"
    on_exit = nodes.add(exit_name, exit_name, "Steps", None, "cleanup", nodeFlag={"hooked": True})
    exit_sg = step_group(nodes, exit_name, 0, exit_name)
    nodes.child(on_exit, exit_sg)
    expire, expire_pod = pod_template(nodes, exit_name, exit_sg["name"] + ".expire", "expire",
                                      "expire-state", key_in, lambda a: ({"exitCode": "0"}, False), 1, "0/0")
    nodes.child(exit_sg, expire)
    on_exit["outboundNodes"] = [expire_pod["id"]]
    return nodes.nodes, fan_out


def workflow_status(nodes, stored_spec, tasks):
    pods = [i for i, n in nodes.items() if n["type"] == "Pod"]
    return {"phase": "Succeeded", "startedAt": STARTED, "finishedAt": FINISHED,
            "progress": "%d/%d" % (tasks, tasks), "estimatedDuration": 28800,
            "resourcesDuration": {"cpu": 57600 * len(pods), "memory": 7372800 * len(pods)},
            "nodes": nodes, "storedWorkflowTemplateSpec": stored_spec,
            "conditions": [{"type": "PodRunning", "status": "False"}, {"type": "Completed", "status": "True"}],
            "artifactRepositoryRef": {"default": True, "artifactRepository": {}},
            "taskResultsCompletionStatus": {i: True for i in pods}}


# ---- The test -----------------------------------------------------------------------------

def check(ok, message, failures):
    print(("ok   " if ok else "FAIL ") + message)
    if not ok:
        failures.append(message)


def default_of(help_text, flag):
    m = re.search(re.escape(flag) + r" [^\n=]*=(\d+)", help_text)
    return m.group(1) if m else None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--step", required=True)
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--tasks", type=int, default=1000000)
    ap.add_argument("-p", "--parameter", action="append", default=[],
                    help="a workflow parameter NAME=VALUE, as `argo submit -p` takes it")
    ap.add_argument("--report", help="also write the measured sizes here (JSON)")
    args = ap.parse_args(argv)
    failures = []
    submitted = {"state-key": STATE_KEY}
    for item in args.parameter:
        name, sep, value = item.partition("=")
        if not sep:
            raise Failure("-p %r: want NAME=VALUE" % item)
        submitted[name] = value

    wft = next(d for d in load_yaml(TEMPLATE) if d.get("kind") == "WorkflowTemplate")
    wf_doc = next(d for d in load_yaml(WORKFLOW) if d.get("kind") == "Workflow")
    wf = submitted_workflow(wf_doc, submitted)
    stored = merged_spec(wf, wft)
    values = parameter_values(stored)
    max_shards, parallelism = int(values["max-shards"]), int(values["parallelism"])
    print("max-shards %d, parallelism %d; %d tasks" % (max_shards, parallelism, args.tasks))

    # tm-step init's own defaults are the template's.
    defaults = parameter_values(wft["spec"])
    help_text = subprocess.run([args.step, "init", "--help"], capture_output=True, text=True).stdout
    check(default_of(help_text, "--max-shards") == defaults["max-shards"] and
          default_of(help_text, "--parallelism") == defaults["parallelism"],
          "tm-step init defaults to the template's max-shards (%s) and parallelism (%s)" % (
              defaults["max-shards"], defaults["parallelism"]), failures)

    sizes = {"workflow_submitted": size(wf), "stored_template_spec": size(stored)}
    check(sizes["workflow_submitted"] < SPEC_LIMIT,
          "the submitted Workflow: %d bytes < 64 KiB" % sizes["workflow_submitted"], failures)
    check(sizes["stored_template_spec"] < SPEC_LIMIT,
          "its merged spec (storedWorkflowTemplateSpec): %d bytes < 64 KiB" % sizes["stored_template_spec"],
          failures)

    argv_init = init_argv(args.step, parameter_values(stored))
    with tempfile.TemporaryDirectory(prefix="tm-size-") as tmp:
        outputs, seconds, log = run_init(args.step, args.sidecar, argv_init, max_shards, args.tasks,
                                         tmp)
    print("submit and init of %d tasks (SQLite): %.1f s; %s" % (
        args.tasks, seconds, " ".join(a or "''" for a in argv_init[1:])))
    batch = int(outputs["batch-size"])
    shards = json.loads(outputs["shards"])
    lanes = lane_items(stored, outputs)
    sizes["init_outputs"] = sum(len(v.encode()) for v in outputs.values())
    check(-(-args.tasks // batch) <= max_shards and len(shards) == -(-args.tasks // batch),
          "init: batch size %d, %d shards <= max-shards %d" % (batch, len(shards), max_shards), failures)
    requested = int(values["batch-size"])
    check(batch == requested or "raising the batch size from %d to %d" % (requested, batch) in log,
          "submit says it raised the batch size from %d to %d" % (requested, batch), failures)
    check('"resumed":true' in outputs["summary"], "init ran by state key alone", failures)
    check(len(lanes) == min(parallelism, len(shards)) and
          sorted(s for lane in lanes for s in lane) == shards and
          max(map(len, lanes)) - min(map(len, lanes)) <= 1,
          "init: %d lanes hold every shard once, evenly" % len(lanes), failures)
    check(all(isinstance(x, int) for x in shards + json.loads(outputs["lanes"])),
          "withParam items are indexes", failures)
    check(sizes["init_outputs"] < INIT_OUTPUTS_LIMIT,
          "init's outputs: %d bytes < 4 KiB (%s)" % (
              sizes["init_outputs"], ", ".join("%s %d" % (k, len(v)) for k, v in outputs.items())), failures)

    for attempts, label in ((1, "first_attempt"), (MAX_ATTEMPTS, "all_attempts")):
        nodes, fan_out = simulate(outputs, lanes, batch, args.tasks, attempts)
        fan = size({i: nodes[i] for i in fan_out})
        whole = copy.deepcopy(wf)
        whole["status"] = workflow_status(nodes, stored, args.tasks)
        sizes["fan_out_" + label] = fan
        sizes["nodes_" + label] = size(nodes)
        sizes["workflow_" + label] = size(whole)
        sizes["fan_out_nodes_" + label] = len(fan_out)
        what = "every shard succeeding at once" if attempts == 1 else "every shard using its 4 attempts"
        check(fan < STATUS_LIMIT, "fan-out node status, %s: %d nodes, %d bytes < 1 MiB" % (
            what, len(fan_out), fan), failures)
        check(sizes["workflow_" + label] < STATUS_LIMIT,
              "the whole Workflow object, %s: %d bytes < 1 MiB (Argo neither compresses nor offloads)"
              % (what, sizes["workflow_" + label]), failures)
    sizes.update({"tasks": args.tasks, "max_shards": max_shards, "parallelism": parallelism,
                  "batch": batch, "shards": len(shards), "lanes": len(lanes), "init_seconds": round(seconds, 1)})
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(sizes, f, indent=1)
    if failures:
        print("workflow_size: %d failure(s)" % len(failures), file=sys.stderr)
        return 1
    print("workflow_size: all passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (Failure, render_pod.RenderError, OSError, subprocess.SubprocessError) as e:
        print("workflow_size: %s" % e, file=sys.stderr)
        sys.exit(2)
