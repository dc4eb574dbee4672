"""The RQ job of the peer benchmark: run /bin/true, as each Taskmaster task does.

The workers import this module by name (run_peers.py puts this directory on
their PYTHONPATH). An RQ worker forks a work horse per job by default, so each
job costs RQ's fork plus this spawn; that is RQ as it is normally run.
"""
import subprocess


def run_true():
    # check=True: a task whose command fails is a failed job, as in Taskmaster.
    subprocess.run(["/bin/true"], check=True)
