#!/usr/bin/env python3
"""Runs a command and reports the peak RSS of tm-step and tm-sidecar among its processes.

Every INTERVAL seconds (default 0.1) it lists /proc, keeps the processes that descend
from the command, and reads VmHWM (the peak resident set size so far) from
/proc/PID/status of each tm-step and tm-sidecar among them. A process's peak is the
last VmHWM read before it exited: growth in its last INTERVAL seconds is not seen.
wait4 on the command gives the bound that sampling cannot miss: ru_maxrss of the
largest process of the whole tree (every process waited for by its parent), with the
CPU time (user + system) of the tree.

Processes are grouped by program and role: `tm-step local`, `tm-step init`,
`tm-step run` (a shard), `tm-sidecar init`, `tm-sidecar shard`, ... (argv[1] for
tm-step, --role for tm-sidecar). Output (stdout, or --out FILE), one line each:

  wall <s> cpu <s> tree_max_rss_kib <KiB> exit <code>
  group <name> processes <n> peak_kib <KiB> median_peak_kib <KiB> [pid <pid>]

Usage: peak_rss.py [--interval S] [--out FILE] -- COMMAND [ARGS...]
The exit code is the command's.
"""
import argparse
import os
import subprocess
import sys
import time


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def parent_and_comm(pid):
    stat = read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    # comm may hold spaces and parentheses: it ends at the last ')'.
    close = stat.rfind(b")")
    comm = stat[stat.find(b"(") + 1 : close].decode(errors="replace")
    fields = stat[close + 2 :].split()
    # The start time tells a process from a later one that reuses its PID.
    return int(fields[1]), comm, int(fields[19])


def group_of(pid, comm, parent):
    raw = read(f"/proc/{pid}/cmdline")
    if raw is None:
        return None
    # A child forked but not yet exec'd (a task, a pod's process) is a copy of
    # its parent, command line included: it is not one of the programs.
    if raw == read(f"/proc/{parent}/cmdline"):
        return None
    argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    if not argv:
        return None  # a zombie, or a process between fork and exec
    if comm == "tm-step":
        return "tm-step " + (argv[1] if len(argv) > 1 else "?")
    role = "?"
    if "--role" in argv[:-1]:
        role = argv[argv.index("--role") + 1]
    elif len(argv) > 1 and not argv[1].startswith("-"):
        role = argv[1]  # a subcommand
    return "tm-sidecar " + role


def vm_hwm_kib(pid):
    status = read(f"/proc/{pid}/status")
    if status is None:
        return None
    for line in status.splitlines():
        if line.startswith(b"VmHWM:"):
            return int(line.split()[1])
    return None


def sample(root, peaks, groups):
    parents = {}
    procs = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = parent_and_comm(entry.name)
        if stat is not None:
            pid = int(entry.name)
            parents[pid] = stat[0]
            procs[pid] = stat
    for pid, (parent, comm, started) in procs.items():
        if comm not in ("tm-step", "tm-sidecar"):
            continue
        p = pid
        while p not in (root, 0, 1) and p in parents:
            p = parents[p]
        if p != root:
            continue
        key = (pid, started)
        if key not in groups:
            group = group_of(pid, comm, parent)
            if group is None:
                continue
            groups[key] = group
        hwm = vm_hwm_kib(pid)
        if hwm is not None:
            peaks[key] = max(peaks.get(key, 0), hwm)


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--out")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")

    start = time.monotonic()
    child = subprocess.Popen(command)
    peaks, groups = {}, {}
    while True:
        sample(child.pid, peaks, groups)
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            break
        time.sleep(args.interval)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)

    lines = [
        f"wall {wall:.2f} cpu {usage.ru_utime + usage.ru_stime:.2f} "
        f"tree_max_rss_kib {usage.ru_maxrss} exit {code}"
    ]
    by_group = {}
    for key, group in groups.items():
        if key in peaks:
            by_group.setdefault(group, []).append((peaks[key], key[0]))
    for group in sorted(by_group):
        values = sorted(by_group[group])
        peak, pid = values[-1]
        median = values[(len(values) - 1) // 2][0]
        lines.append(
            f"group {group.replace(' ', '_')} processes {len(values)} peak_kib {peak} "
            f"median_peak_kib {median} pid {pid}"
        )
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
