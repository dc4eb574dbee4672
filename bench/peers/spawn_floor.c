/* The spawn floor of the peer benchmark: runs a command N times with at most P
 * of them at once, by posix_spawn and waitpid and nothing else. What a task
 * runner adds above this is its own cost per task.
 *
 *   spawn_floor N P COMMAND [ARG...]
 *
 * Exits 0 when every run exited 0, 1 when one did not, 2 on bad usage or a
 * failed spawn. Built by run_peers.py with `cc -O2`. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: spawn_floor N P COMMAND [ARG...]\n");
    return 2;
  }
  long n = strtol(argv[1], NULL, 10);
  long p = strtol(argv[2], NULL, 10);
  if (n < 0 || p < 1) {
    fprintf(stderr, "spawn_floor: N must be >= 0 and P >= 1\n");
    return 2;
  }
  long started = 0, running = 0, failed = 0;
  while (started < n || running > 0) {
    if (started < n && running < p) {
      pid_t pid;
      int err = posix_spawn(&pid, argv[3], NULL, NULL, &argv[3], environ);
      if (err != 0) {
        fprintf(stderr, "spawn_floor: posix_spawn %s: error %d\n", argv[3], err);
        return 2;
      }
      started++;
      running++;
      continue;
    }
    int status;
    if (waitpid(-1, &status, 0) < 0) {
      perror("spawn_floor: waitpid");
      return 2;
    }
    running--;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  }
  if (failed > 0) {
    fprintf(stderr, "spawn_floor: %ld of %ld runs failed\n", failed, n);
    return 1;
  }
  return 0;
}
