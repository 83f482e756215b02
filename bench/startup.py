#!/usr/bin/env python3
"""Start-up timing, interleaved: bench/startup.py N DIR -- 'LABEL=CMD ARGS' ...

Runs every command once (warm-up), then N rounds of each command in turn, in DIR, output to
/dev/null. Prints per command the wall time (spawn to exit) and the CPU time (user + system of
the child, from wait4), in ms: mean (median, min–max). On a busy machine the CPU time is the
steadier figure; the minimum wall time is the one closest to an idle machine.

Every run gets DVS_TRACE_STARTUP=<CLOCK_MONOTONIC ns just before the spawn>: a dvs that knows it
writes `dvs-startup: wall W ms, cpu C ms` to stderr once the command has opened its repository
(Sources/DVSCommands/DVSCommand.swift, StartupTrace). For the commands that wrote it, a second
table gives that start-up of a local command (exec to repository open, bench/README.md "Start-up").
"""
import os
import re
import shlex
import statistics
import sys
import tempfile
import time

n, cwd = int(sys.argv[1]), sys.argv[2]
specs = [(label, shlex.split(cmd)) for label, cmd in (a.split("=", 1) for a in sys.argv[4:])]
devnull = os.open(os.devnull, os.O_WRONLY)
errfile = tempfile.NamedTemporaryFile(prefix="dvs-startup-", suffix=".stderr")
os.chdir(cwd)
TRACE = re.compile(rb"dvs-startup: wall ([0-9.]+) ms, cpu ([0-9.]+) ms")


def run(argv):
    os.ftruncate(errfile.fileno(), 0)
    os.lseek(errfile.fileno(), 0, os.SEEK_SET)
    env = dict(os.environ)
    t = time.perf_counter()
    env["DVS_TRACE_STARTUP"] = str(time.clock_gettime_ns(time.CLOCK_MONOTONIC))
    pid = os.posix_spawnp(argv[0], argv, env,
                          file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, errfile.fileno(), 2)])
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - t) * 1000
    with open(errfile.name, "rb") as f:
        m = TRACE.search(f.read())
    trace = (float(m.group(1)), float(m.group(2))) if m else None
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, status, trace


wall = {label: [] for label, _ in specs}
cpu = {label: [] for label, _ in specs}
start_wall = {label: [] for label, _ in specs}
start_cpu = {label: [] for label, _ in specs}
for label, argv in specs:
    if run(argv)[2] != 0:
        print(f"warning: {label} exits with a failure", file=sys.stderr)
for _ in range(n):
    for label, argv in specs:
        w, c, _, trace = run(argv)
        wall[label].append(w)
        cpu[label].append(c)
        if trace:
            start_wall[label].append(trace[0])
            start_cpu[label].append(trace[1])


def fmt(v):
    return f"{statistics.mean(v):6.2f} ({statistics.median(v):6.2f}, {min(v):6.2f}–{max(v):6.2f})"


width = max(len(label) for label, _ in specs)
print(f"{'':{width}}  wall ms: mean (median, min–max)       cpu ms: mean (median, min–max)   n={n}")
for label, _ in specs:
    print(f"{label:{width}}  {fmt(wall[label])}   {fmt(cpu[label])}")
traced = [label for label, _ in specs if start_wall[label]]
if traced:
    print(f"\nstart-up (exec to repository open, DVS_TRACE_STARTUP)")
    print(f"{'':{width}}  wall ms: mean (median, min–max)       cpu ms: mean (median, min–max)")
    for label in traced:
        print(f"{label:{width}}  {fmt(start_wall[label])}   {fmt(start_cpu[label])}")
