#!/usr/bin/python3
"""N trivial tasks (each runs /bin/true) through Taskmaster and its peers, side by side.

Systems, all at the same parallelism P (default 2, the cores of the benchmark machine):
  spawn-floor        spawn_floor.c: posix_spawn + waitpid of /bin/true, P at a time
  spawn-floor-serial the same, one at a time (one tm-step shard runs its tasks so)
  taskmaster-bK      tm-step local --batch-size K --parallelism P, SQLite in the state dir;
                     K = 1 (the default batch size: Taskmaster's reference figure), 500
                     (N/P: P shards at once) and 1000 (at N = 1000 one shard, so serial)
  parallel           GNU parallel -jP --joblog FILE --resume /bin/true
  snakemake          snakemake --cores P, one job per task (Snakefile)
  rq                 P `rq worker`s, started before timing; enqueue_many, then wait
                     for every job to finish (rq_tasks.py)
  celery             one `celery worker --concurrency P` (prefork pool), started before
                     timing; a group of N tasks, then wait for every result
                     (celery_tasks.py)
Each round runs every system once, in turn; the median round is reported. The
command-line systems are timed from their start to their exit, start-up included, as a
user runs them. RQ and Celery are timed from the first enqueue to the last result, their
workers and the broker already up (and warmed by P tasks), as they are deployed.

Redis for RQ and Celery is a private redis-server (no persistence) on a free loopback
port, started and stopped here by its PID. Every process this script starts runs in a
session of its own; clean-up signals only those process groups, by the PIDs it started.
Each system has a deadline (--timeout); past it, the system is stopped and the run fails.

Prints one tab-separated line per system (system, n, seconds, ms_per_task; also written
to OUT/peers.tsv), then a Markdown table with each one's ratio to Taskmaster's default
(batch size 1) and to the spawn floor. Run it with /usr/bin/python3: the peers are
Debian's packages (scripts/bootstrap-bench.sh).
"""
import argparse
import gc
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ["parallel", "snakemake", "rq", "celery"]


class Failed(Exception):
    pass


def log(msg):
    print(f"run_peers: {msg}", file=sys.stderr, flush=True)


def start(argv, logfile, **kw):
    """Starts a process in a session of its own, so stop() can signal it and its children."""
    with open(logfile, "ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, **kw)


def stop(proc, grace=10):
    """Stops a process this script started, with the children in its process group.

    Once per process, and only while its PID is still ours: not yet reaped, or reaped
    just now with stragglers of its group (a worker's pool) keeping the group alive."""
    if getattr(proc, "stopped", False) or proc.poll() is not None:
        return
    proc.stopped = True
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def timed_command(argv, logfile, timeout, **kw):
    """Runs a command to its exit; returns the wall seconds from its start."""
    t0 = time.monotonic()
    proc = start(argv, logfile, **kw)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise Failed(f"{argv[0]} still running after {timeout} s; see {logfile}")
    except BaseException:  # interrupted: the command goes with us
        stop(proc)
        raise
    seconds = time.monotonic() - t0
    if code != 0:
        raise Failed(f"{argv[0]} exited {code}; see {logfile}")
    return seconds


def free_port(first):
    port = first
    while True:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                port += 1


def wait_until(what, check, timeout=60):
    """Polls check(): the servers and workers give no event to wait on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise Failed(f"{what} not ready after {timeout} s")


class Run:
    """One benchmark run: its scratch dir under /var/tmp (a real disk, as the state of a
    real run would be), its log dir, and the long-running processes it started."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="taskmaster-peers.", dir="/var/tmp")
        self.out = os.path.abspath(args.out)
        self.procs = []  # Redis and the workers
        self.redis_url = None
        os.makedirs(self.out, exist_ok=True)
        for f in os.listdir(self.out):  # logs are appended to (by rounds, by workers)
            if f.endswith(".log"):
                os.remove(os.path.join(self.out, f))

    def close(self):
        for proc in self.procs:
            stop(proc)
        shutil.rmtree(self.work, ignore_errors=True)

    def fresh(self, name):
        """An empty dir for one system's round: nothing to resume from."""
        d = os.path.join(self.work, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def logfile(self, name):
        return os.path.join(self.out, f"{name}.log")

    def measure(self, name):
        """Runs one system once; returns (tasks, seconds)."""
        a = self.args
        if name == "spawn-floor":
            return a.n, self.spawn_floor(a.n, a.parallelism, name)
        if name == "spawn-floor-serial":
            return a.n, self.spawn_floor(a.n, 1, name)
        if name.startswith("taskmaster-b"):
            batch = int(name[len("taskmaster-b"):])
            n = a.tm_n if batch == 1 else a.n
            return n, self.taskmaster(n, batch, name)
        return a.n, getattr(self, name)(a.n, name)

    # ---- command-line systems, timed from start to exit ---------------------------
    def spawn_floor(self, n, p, name):
        exe = os.path.join(self.work, "spawn_floor")
        if not os.path.exists(exe):
            subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "spawn_floor.c")],
                           check=True)
        argv = [exe, str(n), str(p), "/bin/true"]
        return timed_command(argv, self.logfile(name), self.args.timeout)

    def taskmaster(self, n, batch, name):
        d = self.fresh(name)
        tasks = os.path.join(d, "tasks.json")
        with open(tasks, "w") as f:
            json.dump([f"task-{i:06d}" for i in range(n)], f)
        build = os.path.abspath(self.args.build)
        state = os.path.join(d, "state")
        argv = [f"{build}/executor/tm-step", "local", "--task-list", f"@{tasks}",
                "--state-dir", state, "--batch-size", str(batch),
                "--parallelism", str(self.args.parallelism),
                "--sidecar", f"{build}/sidecar/tm-sidecar", "--", "/bin/true"]
        seconds = timed_command(argv, self.logfile(name), self.args.timeout)
        db = sqlite3.connect(os.path.join(state, "state.db"))
        done, = db.execute("SELECT count(*) FROM task_states WHERE status = 'succeeded'").fetchone()
        db.close()
        if done != n:
            raise Failed(f"{name}: {done} of {n} tasks succeeded in the store")
        return seconds

    def parallel(self, n, name):
        d = self.fresh(name)
        joblog, args = os.path.join(d, "joblog"), os.path.join(d, "args")
        with open(args, "w") as f:
            f.write("".join(f"{i}\n" for i in range(n)))
        # Each job is `/bin/true I`: parallel appends the argument, /bin/true ignores it.
        argv = ["/usr/bin/parallel", "--will-cite", f"-j{self.args.parallelism}",
                "--joblog", joblog, "--resume", "-a", args, "/bin/true"]
        seconds = timed_command(argv, self.logfile(name), self.args.timeout)
        with open(joblog) as f:
            ok = sum(1 for line in list(f)[1:] if line.split("\t")[6] == "0")
        if ok != n:
            raise Failed(f"parallel: {ok} of {n} jobs exited 0 in {joblog}")
        return seconds

    def snakemake(self, n, name):
        d = self.fresh(name)
        argv = ["/usr/bin/snakemake", "--snakefile", os.path.join(HERE, "Snakefile"),
                "--directory", d, "--cores", str(self.args.parallelism),
                "--config", f"n={n}", "--quiet"]
        seconds = timed_command(argv, self.logfile(name), self.args.timeout)
        done = len(os.listdir(os.path.join(d, "done")))
        if done != n:
            raise Failed(f"snakemake: {done} of {n} outputs in {d}/done")
        return seconds

    # ---- queue systems: Redis and the workers are up before timing ----------------
    def redis(self):
        """The private Redis (started on first use): its URL without a database."""
        if self.redis_url:
            return self.redis_url
        import redis
        d = self.fresh("redis")
        port = self.args.redis_port
        for _ in range(10):  # another program may take the port between check and bind
            port = free_port(port)
            proc = start(["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--dir", d],
                         self.logfile("redis"))
            self.procs.append(proc)
            client = redis.Redis(port=port)

            def up():  # the server on the port is ours, or ours has exited
                try:
                    return proc.poll() is not None or client.info()["process_id"] == proc.pid
                except redis.exceptions.ConnectionError:
                    return False
            wait_until(f"redis-server on port {port}", up, 30)
            if proc.poll() is None:
                self.redis_url = f"redis://127.0.0.1:{port}"
                return self.redis_url
            port += 1
        raise Failed(f"redis-server did not start; see {self.logfile('redis')}")

    def worker_env(self):
        return dict(os.environ, PYTHONPATH=HERE, PEERS_REDIS_URL=self.redis())

    def rq(self, n, name):
        import redis
        from rq import Queue, Worker
        url = self.redis() + "/2"
        conn = redis.Redis.from_url(url)
        conn.flushdb()
        p = self.args.parallelism
        argv = ["/usr/bin/rq", "worker", "--url", url, "--path", HERE, "--quiet", "peers"]
        workers = [start(argv, self.logfile(name), env=self.worker_env()) for _ in range(p)]
        self.procs += workers
        try:
            wait_until("rq workers", lambda: len(Worker.all(connection=conn)) == p)
            q = Queue("peers", connection=conn)
            self.rq_batch(q, p, name)  # warm-up, outside the timing
            t0 = time.monotonic()
            self.rq_batch(q, n, name)
            return time.monotonic() - t0
        finally:
            for w in workers:
                stop(w)

    def rq_batch(self, q, n, name):
        from rq import Queue
        finished, failed = q.finished_job_registry, q.failed_job_registry
        base = finished.count
        jobs = [Queue.prepare_data("rq_tasks.run_true", result_ttl=3600) for _ in range(n)]
        q.enqueue_many(jobs)
        deadline = time.monotonic() + self.args.timeout
        # RQ has no wait for a set of jobs: poll every 10 ms, so at most 10 ms late.
        while finished.count - base < n:
            if failed.count:
                raise Failed(f"{name}: {failed.count} jobs failed; see {self.logfile(name)}")
            if time.monotonic() > deadline:
                raise Failed(f"{name}: {finished.count - base} of {n} jobs finished "
                             f"after {self.args.timeout} s")
            time.sleep(0.01)

    def celery(self, n, name):
        os.environ["PEERS_REDIS_URL"] = self.redis()  # read by celery_tasks on import
        sys.path.insert(0, HERE)
        from celery_tasks import app, run_true
        app.backend.client.flushall()  # the private Redis: only this run's data
        p = self.args.parallelism
        argv = [sys.executable, "-m", "celery", "-A", "celery_tasks", "worker",
                "--pool", "prefork", "--concurrency", str(p), "--loglevel", "WARNING"]
        worker = start(argv, self.logfile(name), env=self.worker_env(), cwd=HERE)
        self.procs.append(worker)
        try:
            wait_until("celery worker", lambda: bool(app.control.ping(timeout=0.5)))
            self.celery_batch(run_true, p)  # warm-up, outside the timing
            t0 = time.monotonic()
            self.celery_batch(run_true, n)
            return time.monotonic() - t0
        finally:
            stop(worker)

    def celery_batch(self, task, n):
        from celery import group
        from celery.exceptions import TimeoutError as CeleryTimeout
        results = group(task.s() for _ in range(n)).apply_async()
        try:
            results.get(timeout=self.args.timeout)  # raises if a task failed
        except CeleryTimeout:
            raise Failed(f"celery: {results.completed_count()} of {n} tasks done "
                         f"after {self.args.timeout} s")
        if results.completed_count() != n:
            raise Failed(f"celery: {results.completed_count()} of {n} tasks succeeded")
        # A result unsubscribes from Redis when collected: let that happen while Redis is up.
        del results
        gc.collect()


def report(names, results, out):
    """results: name -> (n, [seconds of each round]). Prints the TSV, then the table."""
    rows = []
    for name in names:
        n, secs = results[name]
        s = statistics.median(secs)
        rows.append((name, n, s, s / n * 1000, secs))
    lines = ["system\tn\tseconds\tms_per_task"]
    lines += [f"{name}\t{n}\t{s:.3f}\t{ms:.3f}" for name, n, s, ms, _ in rows]
    with open(os.path.join(out, "peers.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

    per_task = {row[0]: row[3] for row in rows}

    def ratio(ms, base):
        return f"{ms / per_task[base]:.2f}" if base in per_task else "—"
    print()
    print("| System | N | Total s (median) | ms/task | × Taskmaster (batch 1) | × spawn floor "
          "| Each round (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, n, s, ms, secs in rows:
        each = ", ".join(f"{x:.2f}" for x in secs)
        print(f"| {name} | {n:,} | {s:.2f} | {ms:.2f} | {ratio(ms, 'taskmaster-b1')} "
              f"| {ratio(ms, 'spawn-floor')} | {each} |")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="tasks per system (default 1000)")
    ap.add_argument("--tm-n", type=int, help="tasks for taskmaster-b1 (default: --n)")
    ap.add_argument("--tm-batch-sizes", default="1,500,1000",
                    help="a taskmaster-bK system for each K (default 1,500,1000)")
    ap.add_argument("--parallelism", type=int, default=2,
                    help="workers, jobs or shards at once, for every system (default 2)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds over all systems; the median is reported (default 3)")
    ap.add_argument("--systems", default="", help="comma-separated subset (default all)")
    ap.add_argument("--build", default="build",
                    help="build dir with executor/tm-step and sidecar/tm-sidecar")
    ap.add_argument("--out", default="build/bench-results/peers",
                    help="dir for the logs and peers.tsv")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds each system may take in a round (default 600)")
    ap.add_argument("--redis-port", type=int, default=56479, help="first port tried for Redis")
    args = ap.parse_args()
    args.tm_n = args.tm_n or args.n
    every = (["spawn-floor", "spawn-floor-serial"] +
             [f"taskmaster-b{int(k)}" for k in args.tm_batch_sizes.split(",")] + PEERS)
    wanted = args.systems.split(",") if args.systems else every
    unknown = set(wanted) - set(every)
    if unknown:
        ap.error(f"unknown systems: {', '.join(sorted(unknown))} (known: {', '.join(every)})")
    return args, [s for s in every if s in wanted]


def main():
    args, names = parse_args()
    # SIGTERM unwinds as SIGINT does, so that the clean-up below runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run = Run(args)
    results = {}
    try:
        # Round-robin, so that every system meets the same spells of load on the machine.
        for r in range(1, args.rounds + 1):
            for name in names:
                n, seconds = run.measure(name)
                results.setdefault(name, (n, []))[1].append(seconds)
                log(f"round {r}: {name}: {n} tasks in {seconds:.3f} s "
                    f"({seconds / n * 1000:.3f} ms/task)")
    except Failed as e:
        log(f"failed: {e}")
        return 1
    finally:
        run.close()
    report(names, results, run.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
