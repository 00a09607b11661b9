#!/usr/bin/env python3
"""Baseline: Python kazoo on workloads W1-W5. Usage: kazoo_bench.py HOST:PORT W1|W2|W3|W4|W5 [count] [window]
Each RESULT line ends with the client's and (given ZK_PID) the server's CPU seconds over the workload's window only."""
import os, resource, sys, threading, time
from collections import deque
from kazoo.client import KazooClient

hosts, w = sys.argv[1], sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else {"W1": 10000, "W2": 200000, "W3": 50000}.get(w, 10000)
window = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
zk = KazooClient(hosts=hosts, timeout=10); zk.start(timeout=15)
root = "/bench-kazoo-%d" % os.getpid(); node = root + "/n"
zk.create(root, b""); zk.create(node, b"x" * 100)
def cpu_s(pid):
    # This process: its threads' run time to the nanosecond (/proc/self/task/*/schedstat),
    # as the other programs measure it; the server: /proc/PID/stat's 10 ms ticks.
    if pid == "self":
        try:
            total = 0
            for t in os.listdir("/proc/self/task"):
                try:
                    total += int(open("/proc/self/task/%s/schedstat" % t).read().split()[0])
                except (OSError, IndexError, ValueError):
                    pass
            return total / 1e9
        except OSError:
            pass
    try:
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        return (float(f[11]) + float(f[12])) / 100.0
    except (OSError, IndexError, ValueError):
        return 0.0
def window_start():
    return (cpu_s("self"), cpu_s(os.environ["ZK_PID"]) if "ZK_PID" in os.environ else 0.0)
def measured(start):
    server = cpu_s(os.environ["ZK_PID"]) if "ZK_PID" in os.environ else 0.0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return "client_cpu_s=%.3f server_cpu_s=%.3f rss_kb=%d" % (cpu_s("self") - start[0], server - start[1], rss)
start = window_start()
t0 = time.perf_counter()
if w == "W4":
    rates = []
    for create in (True, False):
        t = time.perf_counter(); inflight = deque(); sent = 0
        while sent < count or inflight:
            while sent < count and len(inflight) < window:
                p = "%s/c%d" % (root, sent)
                inflight.append(zk.create_async(p, b"") if create else zk.delete_async(p)); sent += 1
            inflight.popleft().get()
        rates.append(count / (time.perf_counter() - t))
    el = time.perf_counter() - t0
    print("RESULT client=kazoo workload=W4 ops=%d secs=%.3f ops_per_s=%.0f create_ops_per_s=%.0f delete_ops_per_s=%.0f %s" % (
        2 * count, el, 2 * count / el, rates[0], rates[1], measured(start)))
elif w == "W1":
    lat = []
    for _ in range(count):
        t = time.perf_counter(); zk.get(node); lat.append(time.perf_counter() - t)
    el = time.perf_counter() - t0; lat.sort()
    print("RESULT client=kazoo workload=W1 ops=%d secs=%.3f ops_per_s=%.0f p50_us=%.1f p99_us=%.1f %s" % (
        count, el, count / el, lat[count // 2] * 1e6, lat[count * 99 // 100] * 1e6, measured(start)))
elif w in ("W2", "W3"):
    inflight = deque(); data = b"y" * 100; sent = 0
    while sent < count or inflight:
        while sent < count and len(inflight) < window:
            inflight.append(zk.get_async(node) if w == "W2" else zk.set_async(node, data)); sent += 1
        inflight.popleft().get()
    el = time.perf_counter() - t0
    print("RESULT client=kazoo workload=%s ops=%d secs=%.3f ops_per_s=%.0f %s" % (w, count, el, count / el, measured(start)))
elif w == "W5":
    d = root + "/w"; zk.create(d, b"")
    for r in [zk.create_async("%s/%d" % (d, i), b"") for i in range(count)]: r.get()
    done = threading.Event(); n = [0]; lock = threading.Lock()
    def cb(ev):
        with lock:
            n[0] += 1
            if n[0] == count: done.set()
    for r in [zk.get_async("%s/%d" % (d, i), watch=cb) for i in range(count)]: r.get()
    start = window_start(); t = time.perf_counter()
    for r in [zk.set_async("%s/%d" % (d, i), b"z") for i in range(count)]: r.get()
    done.wait(120)
    print("RESULT client=kazoo workload=W5 watches=%d secs_trigger_to_all_events=%.3f %s" % (n[0], time.perf_counter() - t, measured(start)))
zk.delete(root, recursive=True); zk.stop(); zk.close()
