"""The Celery app and task of the peer benchmark: run /bin/true per task.

Broker and result backend are the benchmark's private Redis, whose URL
run_peers.py passes in PEERS_REDIS_URL (database 0 the queue, 1 the results).
"""
import os
import subprocess

from celery import Celery

_redis = os.environ["PEERS_REDIS_URL"].rstrip("/")
app = Celery("celery_tasks", broker=f"{_redis}/0", backend=f"{_redis}/1")
# Results must be stored: the driver counts a task as done when its result is SUCCESS.
app.conf.update(task_ignore_result=False, result_expires=3600,
                worker_hijack_root_logger=False)


@app.task
def run_true():
    # check=True: a task whose command fails is a failed task, as in Taskmaster.
    subprocess.run(["/bin/true"], check=True)
