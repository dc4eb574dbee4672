#!/usr/bin/python3
"""Pod tests: the pods of workflows/multi-task-processing-template.yaml, rendered as
Argo's controller would create them (render_pod.py), run under `podman kube play` with
the images of images/*/Dockerfile.prebuilt, against the Redis and PostgreSQL of
scripts/test-services.sh (TM_TEST_POSTGRES_DSN, TM_TEST_REDIS_URL), on the host
network.

    pod_test.py --step BUILD/executor/tm-step --sidecar BUILD/sidecar/tm-sidecar
                [--only SCENARIO]... [--keep] [--images build/images]

This program plays Argo's part: an init pod first, then the shard pods it asked for;
when main exits it reads the outputs (as the wait container does) and sends the
sidecar SIGTERM, then SIGKILL after the grace period. Scenarios:

  workflow        init, three shard pods at once, finalize, the onExit cleanup, and a
                  second init on the finished workflow (its shards output is [])
  by-key          the list recorded ahead by `tm-sidecar submit`, then the workflow
                  with only its state key (task-list empty): init resumes the recorded
                  list at its batch size; shards and finalize as above
  crash-resume    the pod is killed mid-task once PostgreSQL holds that task's
                  checkpoint; attempt 1 skips the finished task and resumes the
                  interrupted one from that checkpoint
  zombie          attempt 0's sidecar is frozen mid-flush (inside its transaction);
                  attempt 1 finishes; the thawed zombie's writes are refused, counted
                  in its fence_rejections_total, and change nothing
  pod-deletion    SIGTERM to both containers at once mid-shard: everything the step
                  wrote before its commit record is committed; attempt 1 resumes
  preemption      task-retries 2: a task whose pod is deleted mid-task ten times, then
                  fails twice, succeeds on attempt 12 (interruptions spend nothing); a
                  task that always exits 1 fails for good on attempt 2 (main exits 4,
                  which the template does not retry)
  grace           grace-seconds 15: on a pod deletion the task checkpoints from its
                  SIGTERM trap 4-5 s later, within TM_GRACE_PERIOD (6 s); the sidecar commits
                  it and attempt 1 resumes from it

Every wait is bounded polling on an event (a container state, a row, a metric) with
a deadline. Exit status: 0 passed, 1 failed (the reason is printed), 77 skipped
because TM_SKIP_CONTAINER_TESTS=1 (for machines that cannot run containers; CI never
sets it). Without that variable a machine where podman cannot run fails the test.
"""

import argparse
import calendar
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import render_pod  # noqa: E402

TEMPLATE = os.path.join(REPO, "workflows", "multi-task-processing-template.yaml")
WORKFLOW = os.path.join(REPO, "workflows", "multi-task-processing.yaml")
SECRET_EXAMPLE = os.path.join(REPO, "workflows", "store-secret.example.yaml")
CONTAINERS = os.path.join(REPO, "scripts", "containers.sh")
BUILD_IMAGES = os.path.join(REPO, "scripts", "build-images.sh")
EXIT_SKIPPED = 77
IMAGE_TAG = "pod-test"
LOCK_APP = "tm-pod-test-lock"

# Journal records (docs/protocol.md): a 32-byte little-endian header, then the payload.
JOURNAL_HEADER = struct.Struct("<IIQHHQI")
JOURNAL_MAGIC = 0x314A4D54
RECORD_CHECKPOINT, RECORD_TASK_END, RECORD_COMMIT = 4, 7, 8

# The user's command, in the user's image (debian:bookworm-slim here): three steps per
# task, a checkpoint after each, resuming from the restored one; it prints what
# TM_CHECKPOINT held. HOOK lets a scenario stop a given task at a given step.
TASK_SCRIPT = r"""
id=$TM_TASK_ID; a=$TM_ATTEMPT; start=0
if [ -n "${TM_CHECKPOINT:-}" ]; then
  held=$(cat "$TM_CHECKPOINT")
  echo "task $id attempt $a: TM_CHECKPOINT held $held"
  start=$(printf '%s' "$held" | sed -n 's/.*"next":\([0-9]*\).*/\1/p')
fi
echo "task $id attempt $a: starts at step $start"
i=$start
while [ "$i" -lt 3 ]; do
  i=$((i + 1))
  printf '{"checkpoint":{"next":%d,"resumed_from":%d,"attempt":%d}}\n' "$i" "$start" "$a" >&3
  printf '{"progress":{"done":%d,"total":3}}\n' "$i" >&3
  case "$id:$a:$i" in
HOOK
  esac
done
echo "task $id attempt $a: done"
"""


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def wait_for(what, predicate, timeout, interval=0.05):
    """Polls predicate until it returns something truthy; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure("timed out after %g s waiting for %s" % (timeout, what))
        time.sleep(interval)


def run(cmd, *, check_rc=True, input_text=None, timeout=300, env=None):
    p = subprocess.run(cmd, input=input_text, capture_output=True, text=True, timeout=timeout,
                       env=env)
    if check_rc and p.returncode != 0:
        raise Failure("%s: exit %d\n%s%s" % (" ".join(cmd[:4]), p.returncode, p.stdout, p.stderr))
    return p


def podman(*args, check_rc=True, timeout=120):
    return run(["podman", *args], check_rc=check_rc, timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_time_ns(text):
    """podman's RFC 3339 times ("2026-11-29T01:15:41.572242835Z" or with an offset)."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        raise Failure("unexpected time %r from podman" % text)
    secs = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    frac = int(((m.group(2) or "") + "000000000")[:9])
    offset = 0
    if m.group(3) != "Z":
        sign = 1 if m.group(3)[0] == "+" else -1
        offset = sign * (int(m.group(3)[1:3]) * 3600 + int(m.group(3)[4:6]) * 60)
    return (secs - offset) * 1_000_000_000 + frac


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_journal(path):
    """The journal's complete records as dicts: seq, type, flags, payload (bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    records, off = [], 0
    while off + JOURNAL_HEADER.size <= len(data):
        magic, length, seq, rtype, flags, _, _ = JOURNAL_HEADER.unpack_from(data, off)
        end = off + JOURNAL_HEADER.size + length
        if magic != JOURNAL_MAGIC or end > len(data):
            break
        records.append({"seq": seq, "type": rtype, "flags": flags,
                        "payload": data[off + JOURNAL_HEADER.size:end]})
        off = end
    return records


class Stores:
    """The test's PostgreSQL and Redis, through psql and redis-cli."""

    def __init__(self, dsn, redis_url):
        self.dsn, self.redis_url = dsn, redis_url

    def sql(self, query, **params):
        """Rows of a query as lists of strings; :'name' takes a parameter."""
        cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", "-d", self.dsn]
        for k, v in params.items():
            cmd += ["-v", "%s=%s" % (k, v)]
        out = run(cmd, input_text=query + "\n", timeout=60).stdout
        return [line.split("\x1f") for line in out.splitlines() if line]

    def value(self, query, **params):
        rows = self.sql(query, **params)
        return rows[0][0] if rows else None

    def redis(self, *args):
        return run(["redis-cli", "-u", self.redis_url, "--raw", *args], timeout=60).stdout

    def snapshot(self, key):
        """Everything both stores hold for a workflow, to compare before and after."""
        tables = {}
        for table, order in (("workflow_states", "workflow_id"), ("task_states", "ordinal"),
                             ("checkpoints", "task_id"), ("fences", "role, shard")):
            tables[table] = self.sql(
                "SELECT row_to_json(t)::text FROM %s t WHERE workflow_id = :'key' ORDER BY %s"
                % (table, order), key=key)
        keys = sorted(self.redis("KEYS", "*%s*" % key).split())
        tables["redis"] = [(k, self.redis("GET", k)) for k in keys]
        return tables


class Env:
    def __init__(self, args, stores, secret_file, workdir):
        self.args, self.stores, self.secret_file, self.workdir = args, stores, secret_file, workdir
        self.secrets = render_pod.load_secrets(secret_file)
        self.run_id = uuid.uuid4().hex[:6]
        self.workflows = []  # of the scenario running, for its logs when it fails

    def failure_logs(self, lines=40):
        out = []
        for wf in self.workflows:
            for pod in wf.pods:
                if not pod.played:
                    continue
                for c in ("main", "tm-sidecar"):
                    if pod.exists(c):
                        tail = pod.logs(c).splitlines()[-lines:]
                        out.append("--- %s (last %d lines)\n%s" % (pod.ctr(c), len(tail), "\n".join(tail)))
        return "\n".join(out)


class Workflow:
    """One workflow (state key), its parameters, and the pods played for it."""

    def __init__(self, env, name, tasks, batch_size, hook="", grace_seconds=None, script=None,
                 parameters=None):
        self.env, self.name = env, name
        self.key = "pods-%s-%s" % (name, env.run_id)
        script = script or TASK_SCRIPT.replace("HOOK", hook or "    never) ;;")
        self.tasks = tasks
        self.parameters = {
            "task-list": json.dumps(tasks),
            "batch-size": str(batch_size),
            "task-command": json.dumps(["sh", "-c", script]),
            "task-image": "localhost/debian:bookworm-slim",
            "step-image": "localhost/taskmaster/tm-step:" + IMAGE_TAG,
            "sidecar-image": "localhost/taskmaster/tm-sidecar:" + IMAGE_TAG,
        }
        if grace_seconds is not None:
            self.parameters["grace-seconds"] = str(grace_seconds)
        self.parameters.update(parameters or {})
        self.pods = []
        env.workflows.append(self)

    def pod(self, template, suffix, retries=0, **inputs):
        inputs.setdefault("state-key", self.key)
        pod = Pod(self, template, "tm-%s-%s-%s" % (self.env.run_id, self.name, suffix), retries, inputs)
        self.pods.append(pod)
        return pod

    def remove_pods(self):
        for pod in self.pods:
            pod.remove()


class Pod:
    def __init__(self, wf, template, name, retries, inputs):
        self.wf, self.template, self.name = wf, template, name
        self.port = free_port()
        self.manifest, self.outputs = render_pod.render(
            TEMPLATE, template, workflow_file=WORKFLOW, parameters=wf.parameters,
            inputs=inputs, retries=retries, pod_name=name, workflow_name="multi-task-processor-" + wf.key,
            workflow_uid=wf.key, secrets=wf.env.secrets, host_network=True, unique_volumes=True,
            listen={"tm-sidecar": "127.0.0.1:%d" % self.port} if self.has("tm-sidecar") else None)
        self.path = os.path.join(wf.env.workdir, name + ".yaml")
        with open(self.path, "w", encoding="utf-8") as f:
            yaml.safe_dump(self.manifest, f, sort_keys=False)
        self.grace = int(self.manifest["spec"].get("terminationGracePeriodSeconds", 30))
        self.played = False

    def has(self, container):
        tmpl = render_pod._find_template(yaml.safe_load(read_text(TEMPLATE)), self.template)
        return any(s.get("name") == container for s in tmpl.get("sidecars", []) or [])

    def play(self):
        podman("kube", "play", self.path)
        self.played = True
        return self

    def ctr(self, container):
        return "%s-%s" % (self.name, container)

    def state(self, container):
        out = podman("inspect", "--format", "json", self.ctr(container)).stdout
        return json.loads(out)[0]["State"]

    def exited(self, container):
        s = self.state(container)
        return s if s["Status"] in ("exited", "stopped") else None

    def wait_exit(self, container, timeout):
        s = wait_for("%s to exit" % self.ctr(container), lambda: self.exited(container), timeout)
        return s["ExitCode"], parse_time_ns(s["FinishedAt"])

    def volume(self, name):
        return podman("volume", "inspect", "--format", "{{.Mountpoint}}",
                      "%s-%s" % (self.name, name)).stdout.strip()

    def host_path(self, container, path):
        """Where a path inside a container lives on the host (its emptyDir)."""
        spec = self.manifest["spec"]
        c = next(c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == container)
        best = max((m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")),
                   key=lambda m: len(m["mountPath"]), default=None)
        check(best is not None, "%s: %s is on no volume" % (container, path))
        return os.path.join(podman("volume", "inspect", "--format", "{{.Mountpoint}}", best["name"]).stdout.strip(),
                            os.path.relpath(path, best["mountPath"]))

    def kill(self, signal, *containers):
        podman("kill", "--signal", signal, *[self.ctr(c) for c in containers])

    def logs(self, container):
        p = podman("logs", self.ctr(container), check_rc=False)
        return p.stdout + p.stderr

    def all_logs(self):
        return "".join("--- %s %s\n%s" % (self.name, c, self.logs(c))
                       for c in ("main", "tm-sidecar") if self.played and self.exists(c))

    def exists(self, container):
        return podman("container", "exists", self.ctr(container), check_rc=False).returncode == 0

    def metrics(self):
        """The sidecar's /metrics as {sample: value}; {} while it does not answer."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def remove(self):
        if self.played:
            podman("pod", "rm", "--force", "--time", "0", self.name, check_rc=False)
            self.played = False

    def complete(self, main_timeout=120):
        """Argo's part once the pod runs: wait for main, collect the outputs, SIGTERM
        the sidecar and give it the grace period, then SIGKILL."""
        main_exit, main_finished = self.wait_exit("main", main_timeout)
        result = {"main": main_exit, "outputs": {}, "progress": None}
        for out in self.outputs:
            host = self.host_path("main", out["path"])
            if os.path.exists(host):
                check(os.stat(host).st_mtime_ns <= main_finished,
                      "%s: output %s was written after main exited" % (self.name, out["name"]))
                result["outputs"][out["name"]] = read_text(host).strip()
            else:
                check(out["default"] is not None,
                      "%s: output %s missing when main exited (the node would Error)\n%s"
                      % (self.name, out["name"], self.all_logs()))
                result["outputs"][out["name"]] = out["default"]
        progress = self.host_path("main", render_pod.ARGO_PROGRESS_FILE)
        if os.path.exists(progress):
            result["progress"] = read_text(progress)
        if self.exists("tm-sidecar"):
            started = time.monotonic()
            if not self.exited("tm-sidecar"):
                self.kill("TERM", "tm-sidecar")
            try:
                result["sidecar"], _ = self.wait_exit("tm-sidecar", self.grace)
            except Failure:
                self.kill("KILL", "tm-sidecar")
                raise Failure("%s: the sidecar did not exit within the grace period (%d s)\n%s"
                              % (self.name, self.grace, self.all_logs()))
            result["sidecar_seconds"] = time.monotonic() - started
        return result

    def expect_success(self, result, tasks=None):
        check(result["main"] == 0, "%s: main exited %d\n%s" % (self.name, result["main"], self.all_logs()))
        if "sidecar" in result:
            check(result["sidecar"] == 0,
                  "%s: the sidecar exited %d\n%s" % (self.name, result["sidecar"], self.all_logs()))
        if tasks is not None:
            check(result["progress"] is not None, "%s: no progress file" % self.name)
            last = result["progress"].splitlines()[-1]
            check(last == "%d/%d" % (tasks, tasks), "%s: progress ends %r, want %d/%d"
                  % (self.name, last, tasks, tasks))


def verify_checkpoint(env, document, where):
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=env.workdir, delete=False) as f:
        f.write(document + "\n")
    p = run([env.args.step, "checkpoint", "verify", f.name], check_rc=False)
    os.unlink(f.name)
    check(p.returncode == 0, "%s: checkpoint does not verify: %s%s" % (where, p.stdout, p.stderr))
    return json.loads(document)


def check_final_state(env, wf, *, generations, attempts=None):
    """Both stores hold every task's final state and its last checkpoint."""
    st, key = env.stores, wf.key
    status = st.value("SELECT status || ' ' || total || ' ' || succeeded FROM workflow_states "
                      "WHERE workflow_id = :'key'", key=key)
    rows = st.sql("SELECT task_id, status, generation, attempts FROM task_states "
                  "WHERE workflow_id = :'key' ORDER BY ordinal", key=key)
    check([r[0] for r in rows] == wf.tasks, "task_states holds %s, want %s" % (rows, wf.tasks))
    for task_id, task_status, generation, task_attempts in rows:
        check(task_status == "succeeded", "task %s is %s in PostgreSQL" % (task_id, task_status))
        check(int(generation) == generations[task_id],
              "task %s: generation %s, want %d" % (task_id, generation, generations[task_id]))
        if attempts is not None:
            check(int(task_attempts) == attempts[task_id],
                  "task %s: %s attempts, want %d" % (task_id, task_attempts, attempts[task_id]))
        doc = st.value("SELECT document FROM checkpoints WHERE workflow_id = :'key' AND task_id = :'task'",
                       key=key, task=task_id)
        check(doc is not None, "task %s has no checkpoint in PostgreSQL" % task_id)
        parsed = verify_checkpoint(env, doc, "PostgreSQL checkpoint of %s" % task_id)
        check(parsed["payload"]["next"] == 3, "task %s: last checkpoint %s" % (task_id, parsed["payload"]))
        cached = st.redis("GET", "checkpoint:task:%s:%s" % (key, task_id)).rstrip("\n")
        check(cached == doc, "task %s: Redis checkpoint differs from PostgreSQL's:\n%s\n%s" % (task_id, cached, doc))
    n = len(wf.tasks)
    live = json.loads(st.redis("GET", "workflow:state:" + key) or "null")
    check(live is not None and live["succeeded"] == n and live["total"] == n,
          "Redis workflow:state:%s is %s" % (key, live))
    summary = st.redis("GET", "checkpoint:workflow:" + key).rstrip("\n")
    verify_checkpoint(env, summary, "checkpoint:workflow:" + key)
    return status


# ---- Scenarios ------------------------------------------------------------------


def run_init(wf, suffix="init"):
    pod = wf.pod("init", suffix).play()
    result = pod.complete()
    pod.expect_success(result)
    return pod, result


def scenario_workflow(env):
    tasks = ["t-%d" % i for i in range(1, 6)]
    wf = Workflow(env, "workflow", tasks, batch_size=2)
    _, init = run_init(wf)
    check(json.loads(init["outputs"]["shards"]) == [0, 1, 2], "init shards: %s" % init["outputs"])
    check(init["outputs"]["task-count"] == "5" and init["outputs"]["batch-size"] == "2",
          "init outputs: %s" % init["outputs"])
    # The fan-out: every shard pod at once, as Argo starts them.
    shards = [wf.pod("process-shard", "shard%d" % k, shard=str(k)).play() for k in range(3)]
    for k, pod in enumerate(shards):
        result = pod.complete()
        pod.expect_success(result, tasks=2 if k < 2 else 1)
        summary = json.loads(result["outputs"]["summary"])
        check(summary.get("durable") is True, "%s summary: %s" % (pod.name, summary))
        check(result["sidecar_seconds"] < pod.grace, "sidecar took %.1f s" % result["sidecar_seconds"])
    fin = wf.pod("finalize", "finalize").play()
    result = fin.complete()
    fin.expect_success(result)
    out = result["outputs"]
    check((out["total"], out["succeeded"], out["failed"], out["cancelled"]) == ("5", "5", "0", "0"),
          "finalize outputs: %s" % out)
    status = check_final_state(env, wf, generations={t: 3 for t in tasks})
    check(status == "succeeded 5 5", "workflow_states: %s" % status)
    # onExit: cleanup only; the Redis keys get their TTL.
    expire = wf.pod("expire-state", "expire").play()
    exit_code, _ = expire.wait_exit("main", 60)
    check(exit_code == 0, "expire-state exited %d\n%s" % (exit_code, expire.logs("main")))
    ttl = int(env.stores.redis("TTL", "workflow:state:" + wf.key))
    check(0 < ttl <= 604800, "workflow:state TTL %d after cleanup" % ttl)
    # A resumed (resubmitted) finished workflow has nothing left to run.
    _, again = run_init(wf, "reinit")
    check(again["outputs"]["shards"] == "[]", "init of a finished workflow: %s" % again["outputs"])
    wf.remove_pods()


def scenario_by_key(env):
    """The list recorded ahead by `tm-sidecar submit` (on this host, against the test's
    stores), then the workflow as `argo submit ... -p state-key=K` starts it: no task-list
    and the template's batch size; init hands out the recorded list's shards."""
    tasks = ["k-%d" % i for i in range(1, 6)]
    wf = Workflow(env, "by-key", tasks, batch_size=2)
    del wf.parameters["task-list"], wf.parameters["batch-size"]
    list_file = os.path.join(env.workdir, wf.key + ".json")
    with open(list_file, "w", encoding="utf-8") as f:
        json.dump(tasks, f)
    p = run([env.args.sidecar, "submit", "--postgres", env.stores.dsn, "--redis", env.stores.redis_url,
             "--task-list", "@" + list_file, "--batch-size", "2", "--state-key", wf.key])
    answer = json.loads(p.stdout)
    check(answer["submit"] == "argo submit workflows/multi-task-processing.yaml -p state-key=" + wf.key,
          "submit answered %s" % answer)
    init_pod, init = run_init(wf)
    args = init_pod.manifest["spec"]["containers"][0]["args"]
    check(args[args.index("--task-list") + 1] == "", "init got a task list: %s" % args)
    out = init["outputs"]
    check(json.loads(out["shards"]) == [0, 1, 2] and out["batch-size"] == "2" and out["task-count"] == "5",
          "init outputs: %s" % out)
    check(json.loads(out["summary"])["resumed"] is True, "init summary: %s" % out["summary"])
    for k in range(3):
        pod = wf.pod("process-shard", "shard%d" % k, shard=str(k)).play()
        pod.expect_success(pod.complete(), tasks=2 if k < 2 else 1)
    fin = wf.pod("finalize", "finalize").play()
    result = fin.complete()
    fin.expect_success(result)
    check((result["outputs"]["total"], result["outputs"]["succeeded"]) == ("5", "5"),
          "finalize outputs: %s" % result["outputs"])
    status = check_final_state(env, wf, generations={t: 3 for t in tasks})
    check(status == "succeeded 5 5", "workflow_states: %s" % status)
    wf.remove_pods()


def committed_generation(env, key, task):
    g = env.stores.value("SELECT c.generation FROM checkpoints c WHERE c.workflow_id = :'key' "
                         "AND c.task_id = :'task'", key=key, task=task)
    return int(g) if g else 0


def start_first_shard(env, wf, task):
    """Runs init, then plays shard 0's first attempt until PostgreSQL holds the
    first checkpoint of `task`; returns that pod."""
    run_init(wf)
    a0 = wf.pod("process-shard", "a0", retries=0, shard="0").play()
    wait_for("PostgreSQL to hold %s's first checkpoint" % task,
             lambda: committed_generation(env, wf.key, task) >= 1, 60)
    return a0


def scenario_crash_resume(env):
    tasks = ["t-1", "t-2", "t-3"]
    hook = '    "t-2:0:1") echo "task $id attempt $a: stops mid-task"; exec sleep 3600 ;;'
    wf = Workflow(env, "crash", tasks, batch_size=3, hook=hook)
    a0 = start_first_shard(env, wf, "t-2")
    check(env.stores.value("SELECT status FROM task_states WHERE workflow_id = :'key' AND task_id = 't-1'",
                           key=wf.key) == "succeeded", "t-1 not committed before the crash")
    # The node dies: every container killed at once, nothing flushed.
    podman("pod", "kill", "--signal", "KILL", a0.name)
    a0.remove()
    a1 = wf.pod("process-shard", "a1", retries=1, shard="0").play()
    result = a1.complete()
    a1.expect_success(result, tasks=3)
    log = a1.logs("main")
    check("task t-1 attempt 1" not in log, "attempt 1 ran the finished task t-1:\n" + log)
    check('task t-2 attempt 1: TM_CHECKPOINT held {"next":1,"resumed_from":0,"attempt":0}' in log,
          "t-2 did not resume from its committed checkpoint:\n" + log)
    check("task t-2 attempt 1: starts at step 1" in log, "t-2 did not start at step 1:\n" + log)
    check_final_state(env, wf, generations={"t-1": 3, "t-2": 3, "t-3": 3},
                      attempts={"t-1": 1, "t-2": 2, "t-3": 2})
    doc = json.loads(env.stores.value("SELECT document FROM checkpoints WHERE workflow_id = :'key' "
                                      "AND task_id = 't-2'", key=wf.key))
    check(doc["payload"] == {"next": 3, "resumed_from": 1, "attempt": 1},
          "t-2's last checkpoint: %s" % doc["payload"])
    wf.remove_pods()


class RowLock:
    """Holds the row lock of a workflow's shard fence in a psql session of its own."""

    def __init__(self, env, key):
        self.env = env
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", env.stores.dsn],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, PGAPPNAME=LOCK_APP))
        self.proc.stdin.write("BEGIN;\nSELECT 1 FROM fences WHERE workflow_id = '%s' AND role = 'shard' "
                              "AND shard = 0 FOR UPDATE;\n" % key)
        self.proc.stdin.flush()
        wait_for("the test's lock on the fence row", lambda: env.stores.value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :'app' "
            "AND state = 'idle in transaction'", app=LOCK_APP) == "1", 30)

    def release(self):
        self.proc.stdin.write("COMMIT;\n\\q\n")
        self.proc.stdin.close()
        check(self.proc.wait(timeout=30) == 0, "psql: %s" % self.proc.stderr.read())


def sidecar_sessions(env, where):
    return int(env.stores.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                "'tm-sidecar' AND " + where))


def freeze(pod, container):
    """podman pause (the cgroup freezer); SIGSTOP where the freezer is missing."""
    p = podman("pause", pod.ctr(container), check_rc=False)
    if p.returncode == 0:
        return "pause"
    print("  (podman pause failed: %s; using SIGSTOP)" % p.stderr.strip())
    pod.kill("STOP", container)
    return "sigstop"


def thaw(pod, container, how):
    if how == "pause":
        podman("unpause", pod.ctr(container))
    else:
        pod.kill("CONT", container)


def scenario_zombie(env):
    tasks = ["t-1", "t-2"]
    # Attempt 0 holds t-1 after its first checkpoint until the test opens /tmp/go.
    hook = '    "t-1:0:1") while [ ! -e /tmp/go ]; do sleep 0.05; done ;;'
    wf = Workflow(env, "zombie", tasks, batch_size=2, hook=hook)
    a0 = start_first_shard(env, wf, "t-1")
    # Mid-flush: the test holds the fence row, attempt 0 writes on, and its sidecar's
    # next flush waits for that row inside its transaction. Then it is frozen.
    lock = RowLock(env, wf.key)
    with open(os.path.join(a0.volume("tmp"), "go"), "w", encoding="utf-8"):
        pass
    wait_for("attempt 0's flush to wait for the fence row", lambda: sidecar_sessions(
        env, "wait_event_type = 'Lock'") >= 1, 30)
    how = freeze(a0, "tm-sidecar")
    lock.release()
    wait_for("the frozen flush to hold the fence row (idle in transaction)", lambda: sidecar_sessions(
        env, "state = 'idle in transaction'") >= 1, 30)
    # PostgreSQL ends the frozen transaction (the sidecar sets
    # idle_in_transaction_session_timeout, 10 s). Until then the row stays locked and
    # a new attempt's restore fails on its lock_timeout (2 s) with exit 75, so the
    # retry starts after that, as Argo's (backoff 30 s) would.
    wait_for("PostgreSQL to end the frozen transaction", lambda: sidecar_sessions(
        env, "state = 'idle in transaction'") == 0, 60, interval=0.2)
    # Attempt 0's step goes on writing while its sidecar is frozen: those are the
    # late writes. Wait until its commit record is in the journal.
    journal = os.path.join(a0.volume("work"), "journal")
    wait_for("attempt 0's step to write its commit record",
             lambda: any(r["type"] == RECORD_COMMIT for r in read_journal(journal)), 60)
    late = len(read_journal(journal)) - json.loads(read_text(os.path.join(a0.volume("work"), "ack")))["seq"]
    check(late > 0, "attempt 0 has no unacknowledged records")

    a1 = wf.pod("process-shard", "a1", retries=1, shard="0").play()
    result = a1.complete()
    a1.expect_success(result, tasks=2)
    check_final_state(env, wf, generations={"t-1": 3, "t-2": 3})
    before = env.stores.snapshot(wf.key)

    thaw(a0, "tm-sidecar", how)
    wait_for("the zombie sidecar to count its %d refused records" % late,
             lambda: a0.metrics().get("fence_rejections_total", 0) >= late, 60)
    check("a newer attempt owns" in a0.logs("tm-sidecar"), "the zombie did not log the refusal:\n"
          + a0.logs("tm-sidecar"))
    after = env.stores.snapshot(wf.key)
    check(after == before, "the zombie changed the state:\nbefore %s\nafter  %s" % (before, after))
    print("  zombie: %d late records refused (%s), state unchanged" % (late, how))
    wf.remove_pods()


def scenario_pod_deletion(env):
    tasks = ["t-1", "t-2", "t-3"]
    hook = '    "t-3:0:1") echo "task $id attempt $a: runs on"; exec sleep 3600 ;;'
    wf = Workflow(env, "deletion", tasks, batch_size=3, hook=hook)
    a0 = start_first_shard(env, wf, "t-3")
    # Pod deletion: SIGTERM to both containers at the same moment.
    a0.kill("TERM", "main", "tm-sidecar")
    main_exit, main_finished = a0.wait_exit("main", a0.grace)
    sidecar_exit, _ = a0.wait_exit("tm-sidecar", a0.grace)
    check(main_exit == 1, "main exited %d after SIGTERM, want 1 (a task interrupted)\n%s"
          % (main_exit, a0.all_logs()))
    check(sidecar_exit == 0, "the sidecar exited %d after SIGTERM\n%s" % (sidecar_exit, a0.all_logs()))
    records = read_journal(os.path.join(a0.volume("work"), "journal"))
    check(records and records[-1]["type"] == RECORD_COMMIT, "the journal does not end with a commit")
    commit_seq = records[-1]["seq"]
    fence = json.loads(read_text(os.path.join(a0.volume("work"), "ready")))["fence"]
    stored = env.stores.sql("SELECT fence, seq FROM fences WHERE workflow_id = :'key' AND role = 'shard'",
                            key=wf.key)
    check(stored == [[str(fence), str(commit_seq)]],
          "fence row %s, want [%d, %d]: not everything up to the commit was committed"
          % (stored, fence, commit_seq))
    # Each task's last record before the commit is what the store holds.
    last_doc, last_end = {}, {}
    for r in records:
        if r["type"] == RECORD_CHECKPOINT:
            doc = json.loads(r["payload"])
            last_doc[doc["task_id"]] = r["payload"].decode()
        elif r["type"] == RECORD_TASK_END:
            end = json.loads(r["payload"])
            last_end[end["task_id"]] = end["status"]
    check(last_end == {"t-1": "succeeded", "t-2": "succeeded", "t-3": "interrupted"},
          "task ends in the journal: %s" % last_end)
    for task in tasks:
        status = env.stores.value("SELECT status FROM task_states WHERE workflow_id = :'key' "
                                  "AND task_id = :'task'", key=wf.key, task=task)
        check(status == last_end[task], "task %s is %s in PostgreSQL, %s in the journal"
              % (task, status, last_end[task]))
        doc = env.stores.value("SELECT document FROM checkpoints WHERE workflow_id = :'key' "
                               "AND task_id = :'task'", key=wf.key, task=task)
        check(doc == last_doc[task], "task %s: stored checkpoint is not the journal's last" % task)
    progress = read_text(a0.host_path("main", render_pod.ARGO_PROGRESS_FILE))
    check(progress.splitlines()[-1] == "2/3", "progress after deletion: %r" % progress)
    outputs = os.path.join(a0.volume("work"), "outputs", "summary")
    check(os.path.exists(outputs) and os.stat(outputs).st_mtime_ns <= main_finished,
          "the summary output did not exist when main exited")
    a0.remove()
    # Argo retries the deleted pod: only t-3 runs, from its checkpoint.
    a1 = wf.pod("process-shard", "a1", retries=1, shard="0").play()
    result = a1.complete()
    a1.expect_success(result, tasks=3)
    log = a1.logs("main")
    check("task t-3 attempt 1: starts at step 1" in log and "task t-1 attempt 1" not in log,
          "attempt 1 after the deletion:\n" + log)
    check_final_state(env, wf, generations={"t-1": 3, "t-2": 3, "t-3": 3})
    wf.remove_pods()


def task_counts(env, wf, task):
    """(status, final, failures, interruptions) of a task in PostgreSQL."""
    rows = env.stores.sql("SELECT status, final, failures, interruptions FROM task_states "
                          "WHERE workflow_id = :'key' AND task_id = :'task'", key=wf.key, task=task)
    return tuple(rows[0]) if rows else None


def delete_pod_mid_task(env, wf, task, attempt):
    """Plays shard 0's attempt, waits until its task started (the store holds the
    attempt), then deletes the pod as Kubernetes does: SIGTERM to both containers."""
    pod = wf.pod("process-shard", "a%d" % attempt, retries=attempt, shard="0").play()
    wait_for("%s attempt %d to start" % (task, attempt), lambda: int(env.stores.value(
        "SELECT attempts FROM task_states WHERE workflow_id = :'key' AND task_id = :'task'",
        key=wf.key, task=task) or 0) > attempt, 60)
    pod.kill("TERM", "main", "tm-sidecar")
    main_exit, _ = pod.wait_exit("main", pod.grace)
    sidecar_exit, _ = pod.wait_exit("tm-sidecar", pod.grace)
    check((main_exit, sidecar_exit) == (1, 0), "attempt %d after SIGTERM: main %d, sidecar %d\n%s"
          % (attempt, main_exit, sidecar_exit, pod.all_logs()))
    pod.remove()
    return pod


def scenario_preemption(env):
    # Attempts 0-9 run on until the pod is deleted, 10 and 11 exit 1, 12 succeeds.
    script = ('echo "task $TM_TASK_ID attempt $TM_ATTEMPT"\n'
              'case $TM_ATTEMPT in [0-9]) exec sleep 3600 ;; 10|11) exit 1 ;; esac')
    wf = Workflow(env, "preempt", ["t-1"], batch_size=1, script=script,
                  parameters={"task-retries": "2"})
    run_init(wf)
    for attempt in range(10):
        delete_pod_mid_task(env, wf, "t-1", attempt)
    check(task_counts(env, wf, "t-1") == ("interrupted", "f", "0", "10"),
          "after ten deletions: %s" % (task_counts(env, wf, "t-1"),))
    for attempt in (10, 11):
        pod = wf.pod("process-shard", "a%d" % attempt, retries=attempt, shard="0").play()
        result = pod.complete()
        check(result["main"] == 1, "attempt %d: main exited %d, want 1 (a failure within the budget)"
              "\n%s" % (attempt, result["main"], pod.all_logs()))
    last = wf.pod("process-shard", "a12", retries=12, shard="0").play()
    last.expect_success(last.complete(), tasks=1)
    check(task_counts(env, wf, "t-1") == ("succeeded", "f", "2", "10"),
          "after attempt 12: %s" % (task_counts(env, wf, "t-1"),))
    wf.remove_pods()

    broken = Workflow(env, "broken", ["t-1"], batch_size=1, parameters={"task-retries": "2"},
                      script='echo "task $TM_TASK_ID attempt $TM_ATTEMPT: fails"; exit 1')
    run_init(broken)
    for attempt, want in ((0, 1), (1, 1), (2, 4)):
        pod = broken.pod("process-shard", "a%d" % attempt, retries=attempt, shard="0").play()
        result = pod.complete()
        check(result["main"] == want, "attempt %d: main exited %d, want %d\n%s"
              % (attempt, result["main"], want, pod.all_logs()))
    check(task_counts(env, broken, "t-1") == ("failed", "t", "3", "0"),
          "after three failures: %s" % (task_counts(env, broken, "t-1"),))
    fin = broken.pod("finalize", "finalize").play()
    result = fin.complete()
    check(result["main"] == 1 and result["outputs"]["failed"] == "1",
          "finalize: main %d, outputs %s" % (result["main"], result["outputs"]))
    broken.remove_pods()


# Without a checkpoint: says that it runs, then waits; its SIGTERM trap (run once
# the current `sleep 1` ends) works two seconds less than TM_GRACE_PERIOD and then
# checkpoints. With one: prints it.
GRACE_SCRIPT = r"""
if [ -n "${TM_CHECKPOINT:-}" ]; then echo "task $TM_TASK_ID resumed from $(cat "$TM_CHECKPOINT")"; exit 0; fi
trap 'sleep $((TM_GRACE_PERIOD - 2)); printf "{\"checkpoint\":{\"row\":42,\"grace\":%s}}\n" "$TM_GRACE_PERIOD" >&3; exit 143' TERM
printf '{"note":"running"}\n' >&3
while :; do sleep 1; done
"""


def scenario_grace(env):
    wf = Workflow(env, "grace", ["t-1"], batch_size=1, grace_seconds=15, script=GRACE_SCRIPT)
    run_init(wf)
    a0 = wf.pod("process-shard", "a0", retries=0, shard="0").play()
    wait_for("the task to run", lambda: env.stores.value(
        "SELECT note FROM task_states WHERE workflow_id = :'key'", key=wf.key) == "running", 60)
    check(a0.grace == 15, "terminationGracePeriodSeconds %d, want 15" % a0.grace)
    signalled = time.monotonic()
    a0.kill("TERM", "main", "tm-sidecar")
    main_exit, _ = a0.wait_exit("main", a0.grace)
    sidecar_exit, _ = a0.wait_exit("tm-sidecar", a0.grace)
    took = time.monotonic() - signalled
    check((main_exit, sidecar_exit) == (1, 0) and 4 <= took < 15,
          "after SIGTERM: main %d, sidecar %d, in %.1f s\n%s" % (main_exit, sidecar_exit, took, a0.all_logs()))
    doc = env.stores.value("SELECT document FROM checkpoints WHERE workflow_id = :'key'", key=wf.key)
    check(doc is not None, "the checkpoint written after SIGTERM was not committed\n" + a0.all_logs())
    check(json.loads(doc)["payload"] == {"row": 42, "grace": 6}, "stored checkpoint: %s" % doc)
    check(task_counts(env, wf, "t-1") == ("interrupted", "f", "0", "1"),
          "after the deletion: %s" % (task_counts(env, wf, "t-1"),))
    a0.remove()
    a1 = wf.pod("process-shard", "a1", retries=1, shard="0").play()
    a1.expect_success(a1.complete(), tasks=1)
    check('task t-1 resumed from {"row":42,"grace":6}' in a1.logs("main"),
          "attempt 1 did not resume from the checkpoint:\n" + a1.logs("main"))
    wf.remove_pods()


SCENARIOS = [
    ("workflow", scenario_workflow),
    ("by-key", scenario_by_key),
    ("crash-resume", scenario_crash_resume),
    ("zombie", scenario_zombie),
    ("pod-deletion", scenario_pod_deletion),
    ("preemption", scenario_preemption),
    ("grace", scenario_grace),
]


# ---- Setup ----------------------------------------------------------------------


def start_containers():
    p = run([CONTAINERS, "start"], check_rc=False)
    if p.returncode != 0:
        raise Failure("cannot set up podman: %s" % p.stderr.strip())
    for line in p.stdout.splitlines():
        m = re.match(r"export (\w+)='(.*)'$", line)
        if m:
            os.environ[m.group(1)] = m.group(2)
    return os.environ["TM_CONTAINERS_DIR"]


def write_secret(path, dsn, redis_url):
    """The example Secret of workflows/, with the test's stores."""
    with open(SECRET_EXAMPLE, encoding="utf-8") as f:
        secret = yaml.safe_load(f)
    secret["stringData"] = {"postgres-dsn": dsn, "redis-url": redis_url}
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(secret, f)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--step", required=True, help="tm-step built on this host (static)")
    ap.add_argument("--sidecar", required=True, help="tm-sidecar built on this host")
    ap.add_argument("--only", action="append", help="run only this scenario")
    ap.add_argument("--keep", action="store_true", help="keep the container storage and pods")
    ap.add_argument("--images", metavar="DIR",
                    help="run the images saved by `make images` (DIR/tm-step-*.tar, DIR/tm-sidecar-*.tar)")
    args = ap.parse_args(argv)
    unknown = set(args.only or []) - {name for name, _ in SCENARIOS}
    if unknown:
        ap.error("no scenario %s (there are: %s)" % (", ".join(sorted(unknown)),
                                                     ", ".join(name for name, _ in SCENARIOS)))

    if os.environ.get("TM_SKIP_CONTAINER_TESTS") == "1":
        print("pod tests skipped: TM_SKIP_CONTAINER_TESTS=1")
        return EXIT_SKIPPED
    dsn, redis_url = os.environ.get("TM_TEST_POSTGRES_DSN"), os.environ.get("TM_TEST_REDIS_URL")
    if not dsn or not redis_url:
        print("FAIL: TM_TEST_POSTGRES_DSN and TM_TEST_REDIS_URL are not set (scripts/test-services.sh)")
        return 1
    for tool in ("podman", "psql", "redis-cli"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode != 0:
            print("FAIL: %s not found: run scripts/bootstrap-containers.sh and scripts/bootstrap.sh "
                  "(or set TM_SKIP_CONTAINER_TESTS=1 on a machine that cannot run containers)" % tool)
            return 1

    started = time.monotonic()
    failures = 0
    containers_dir = None
    try:
        containers_dir = start_containers()
        workdir = os.path.join(containers_dir, "pods")
        os.makedirs(workdir, exist_ok=True)
        t0 = time.monotonic()
        p = run([BUILD_IMAGES, "--prebuilt", "--step", args.step, "--sidecar", args.sidecar,
                 "--tag", IMAGE_TAG], check_rc=False, timeout=1800,
                env=dict(os.environ, TM_PULL_BASE="0", TM_CONTAINER_TOOL="podman"))
        if p.returncode != 0:
            raise Failure("cannot build the images: %s" % (p.stderr.strip() or p.stdout.strip()))
        print("images built in %.1f s (base image: %s)" % (
            time.monotonic() - t0, "built now" if "debootstrap" in p.stderr else "cached"))
        if args.images:
            # The images of `make images` instead of the host binaries'.
            for name in ("tm-step", "tm-sidecar"):
                archives = sorted(f for f in os.listdir(args.images)
                                  if f.startswith(name + "-") and f.endswith(".tar"))
                check(archives, "no %s-*.tar in %s" % (name, args.images))
                loaded = podman("load", "-q", "-i", os.path.join(args.images, archives[-1])).stdout
                image = loaded.strip().split("Loaded image: ")[-1].strip()
                podman("tag", image, "localhost/taskmaster/%s:%s" % (name, IMAGE_TAG))
                print("using %s from %s" % (image, archives[-1]))
        secret = os.path.join(workdir, "store-secret.yaml")
        write_secret(secret, dsn, redis_url)
        env = Env(args, Stores(dsn, redis_url), secret, workdir)
        for name, scenario in SCENARIOS:
            if args.only and name not in args.only:
                continue
            t0 = time.monotonic()
            print("== %s" % name, flush=True)
            env.workflows = []
            try:
                scenario(env)
                print("ok   %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)
            except Exception as e:  # pylint: disable=broad-except
                failures += 1
                reason = str(e) if isinstance(e, Failure) else traceback.format_exc()
                print("FAIL %s (%.1f s): %s" % (name, time.monotonic() - t0, reason), flush=True)
                print(env.failure_logs(), flush=True)
                if not args.keep:
                    for wf in env.workflows:
                        wf.remove_pods()
    except Failure as e:
        print("FAIL: %s" % e)
        failures += 1
    finally:
        if containers_dir and not args.keep:
            subprocess.run([CONTAINERS, "stop"], capture_output=True)
        elif containers_dir:
            print("kept: export TM_CONTAINERS_DIR=%s CONTAINERS_CONF=%s/containers.conf "
                  "CONTAINERS_STORAGE_CONF=%s/storage.conf" % ((containers_dir,) * 3))
    print("pod tests: %s in %.1f s" % ("%d failed" % failures if failures else "all passed",
                                       time.monotonic() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
