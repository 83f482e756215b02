#!/usr/bin/env python3
"""Start-up timing, interleaved: bench/startup.py N DIR -- 'LABEL=CMD ARGS' ...

Runs every command once (warm-up), then N rounds of each command in turn, in DIR, output to
/dev/null. Prints per command the wall time (spawn to exit) and the CPU time (user + system of
the child, from wait4), in ms: mean (median, min–max). On a busy machine the CPU time is the
steadier figure; the minimum wall time is the one closest to an idle machine.
"""
import os
import shlex
import statistics
import sys
import time

n, cwd = int(sys.argv[1]), sys.argv[2]
specs = [(label, shlex.split(cmd)) for label, cmd in (a.split("=", 1) for a in sys.argv[4:])]
devnull = os.open(os.devnull, os.O_WRONLY)
os.chdir(cwd)


def run(argv):
    t = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, usage = os.wait4(pid, 0)
    return (time.perf_counter() - t) * 1000, (usage.ru_utime + usage.ru_stime) * 1000, status


wall = {label: [] for label, _ in specs}
cpu = {label: [] for label, _ in specs}
for label, argv in specs:
    if run(argv)[2] != 0:
        print(f"warning: {label} exits with a failure", file=sys.stderr)
for _ in range(n):
    for label, argv in specs:
        w, c, _ = run(argv)
        wall[label].append(w)
        cpu[label].append(c)


def fmt(v):
    return f"{statistics.mean(v):6.2f} ({statistics.median(v):6.2f}, {min(v):6.2f}–{max(v):6.2f})"


width = max(len(label) for label, _ in specs)
print(f"{'':{width}}  wall ms: mean (median, min–max)       cpu ms: mean (median, min–max)   n={n}")
for label, _ in specs:
    print(f"{label:{width}}  {fmt(wall[label])}   {fmt(cpu[label])}")
