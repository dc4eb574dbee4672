#!/usr/bin/env python3
"""An example Taskmaster task: transforms one file of records, resumably.

Each task owns input/<index>.csv under $EXAMPLE_DATA (generated from the task ID
the first time, so the example needs nothing else) and writes output/<index>.csv,
one line per record. Every $EXAMPLE_CHECKPOINT_EVERY records it makes the output
durable and saves a sync checkpoint {"next": <record>, "out_bytes": <size>} on fd 3,
waiting for the {"ack": N} that says the store has it. Restarted with
$TM_CHECKPOINT, it cuts the output back to the checkpoint's size and carries on
from there: however often it is killed, the output ends up byte for byte what an
uninterrupted run writes, and only records after the last committed checkpoint
are processed again.

audit/<index>.log records what really ran, for people and tests:
  start <next> <attempt>   a run began at record <next>
  rec <i>                  record i was processed
  acked <next>             the checkpoint up to <next> is committed
  done                     the last record is in the output
Files are named by ordinal (TM_TASK_INDEX): a task ID may contain "/".

Environment: EXAMPLE_DATA (default ./example-data), EXAMPLE_RECORDS (200),
EXAMPLE_CHECKPOINT_EVERY (25), EXAMPLE_DELAY seconds per record (0.005).
"""
import hashlib
import json
import os
import random
import signal
import socket
import sys
import time

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]


def generate_input(path, task_id, count):
    """Writes the task's records, the same ones every time for the same task ID."""
    rng = random.Random(task_id)
    lines = [f"{i},{rng.choice(WORDS)},{rng.randrange(1, 10**6)}\n" for i in range(count)]
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.writelines(lines)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def transform(line):
    number, word, value = line.rstrip("\n").split(",")
    digest = hashlib.sha256(line.encode()).hexdigest()[:12]
    return f"{number},{word.upper()},{int(value) * 3},{digest}\n".encode()


class Control:
    """The fd-3 control socket: one JSON object per line each way."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.replies = self.sock.makefile("rb")

    def send(self, message):
        self.sock.sendall((json.dumps(message, separators=(",", ":")) + "\n").encode())

    def checkpoint_and_wait(self, payload):
        self.send({"checkpoint": payload, "sync": True})
        reply = self.replies.readline()
        if not reply:
            sys.exit("tm-step closed the control socket before acknowledging the checkpoint")
        answer = json.loads(reply)
        if "ack" not in answer:
            sys.exit(f"checkpoint not acknowledged: {answer}")


def main():
    task_id = os.environ["TM_TASK_ID"]
    index = os.environ["TM_TASK_INDEX"]
    attempt = os.environ.get("TM_ATTEMPT", "0")
    data = os.environ.get("EXAMPLE_DATA", "example-data")
    count = int(os.environ.get("EXAMPLE_RECORDS", "200"))
    every = max(1, int(os.environ.get("EXAMPLE_CHECKPOINT_EVERY", "25")))
    delay = float(os.environ.get("EXAMPLE_DELAY", "0.005"))
    for sub in ("input", "output", "audit"):
        os.makedirs(os.path.join(data, sub), exist_ok=True)
    input_path = os.path.join(data, "input", f"{index}.csv")
    output_path = os.path.join(data, "output", f"{index}.csv")
    audit = os.open(os.path.join(data, "audit", f"{index}.log"),
                    os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def note(line):
        os.write(audit, (line + "\n").encode())  # one write: whole lines survive a kill

    if not os.path.exists(input_path):
        generate_input(input_path, task_id, count)
    with open(input_path) as f:
        records = f.readlines()

    start, out_bytes = 0, 0
    if os.environ.get("TM_CHECKPOINT"):
        with open(os.environ["TM_CHECKPOINT"]) as f:
            saved = json.load(f)
        start, out_bytes = saved["next"], saved["out_bytes"]
    # Whatever was written after the checkpoint is written again, so cut it off.
    out = os.open(output_path, os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(out, out_bytes)
    os.lseek(out, out_bytes, os.SEEK_SET)
    note(f"start {start} {attempt}")
    print(f"task {task_id}: records {start}..{len(records)} of {input_path} (attempt {attempt})",
          flush=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    control = Control(int(os.environ.get("TM_CONTROL_FD", "3")))

    def checkpoint(next_record):
        os.fsync(out)  # the output the checkpoint vouches for is on disk first
        control.checkpoint_and_wait({"next": next_record, "out_bytes": os.lseek(out, 0, os.SEEK_CUR)})
        note(f"acked {next_record}")

    for i in range(start, len(records)):
        if stopping:
            checkpoint(i)
            print(f"task {task_id}: stopped at record {i}; the next attempt resumes there", flush=True)
            sys.exit(143)
        time.sleep(delay)  # stands in for real work
        os.write(out, transform(records[i]))
        note(f"rec {i}")
        done = i + 1
        if done % every == 0 or done == len(records):
            checkpoint(done)
        if done % 5 == 0 or done == len(records):
            control.send({"progress": {"done": done, "total": len(records)}})
    os.fsync(out)
    note("done")
    print(f"task {task_id}: {len(records)} records done", flush=True)


if __name__ == "__main__":
    main()
