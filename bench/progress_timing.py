#!/usr/bin/env python3
"""How smooth tm-step local's progress line was on a terminal.

Reads what `script -T TIMING ... TYPESCRIPT` recorded of a run (the run drew its
live progress line because it wrote to script's pseudo-terminal) and prints one line:

  redraws <n> over <s> s, interval median <ms> ms p99 <ms> ms max <ms> ms;
  done count monotonic <yes|no>, longest without a change <s> s, first <n> last <n>;
  ms/task per tenth of the tasks <ms> <ms> ... <ms>

The last part is the wall time per task between the draws that first showed
10%, 20%, ... of the tasks done: within one run, whether tasks got slower as
the store filled up.

A redraw is a write that holds a progress line ("\\r\\033[K[###...] ... N/M tasks done").
TIMING lines are "<seconds since the previous write> <bytes written>".

Usage: progress_timing.py TIMING TYPESCRIPT
"""
import re
import sys

PROGRESS = re.compile(rb"\r\x1b\[K\[[#.]*\] +\d+% (\d+)/(\d+) tasks done")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[2], "rb") as f:
        data = f.read()
    data = data[data.index(b"\n") + 1 :]  # script's own first line is not timed
    now = 0.0
    offset = 0
    draws = []  # (time, done)
    with open(sys.argv[1]) as timing:
        for line in timing:
            delay, size = line.split()
            now += float(delay)
            chunk = data[offset : offset + int(size)]
            offset += int(size)
            for m in PROGRESS.finditer(chunk):
                draws.append((now, int(m.group(1))))
    if len(draws) < 2:
        sys.exit("fewer than two progress lines: was the run on a terminal?")
    gaps = sorted(b[0] - a[0] for a, b in zip(draws, draws[1:]))
    monotonic = all(b[1] >= a[1] for a, b in zip(draws, draws[1:]))
    still, since = 0.0, draws[0]
    for t, done in draws[1:]:
        if done != since[1]:
            still = max(still, t - since[0])
            since = (t, done)
    still = max(still, draws[-1][0] - since[0])

    total = int(PROGRESS.search(data).group(2))
    tenths, k = [], 1
    start = draws[0][0]
    for t, done in draws:
        while k <= 10 and done >= k * total / 10:
            tenths.append((t - start) * 1000 / (total / 10))
            start, k = t, k + 1

    def pct(p):
        return gaps[min(len(gaps) - 1, int(p * len(gaps)))] * 1000

    print(
        f"redraws {len(draws)} over {draws[-1][0] - draws[0][0]:.1f} s, "
        f"interval median {pct(0.5):.0f} ms p99 {pct(0.99):.0f} ms max {gaps[-1] * 1000:.0f} ms; "
        f"done count monotonic {'yes' if monotonic else 'no'}, "
        f"longest without a change {still:.2f} s, first {draws[0][1]} last {draws[-1][1]}; "
        f"ms/task per tenth of the tasks {' '.join(f'{v:.2f}' for v in tenths)}"
    )


if __name__ == "__main__":
    main()
