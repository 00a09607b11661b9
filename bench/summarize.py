#!/usr/bin/env python3
"""Turns the RESULT lines of scripts/bench.sh into one table per workload
(medians over the rounds, with ratios of each kazoo-rs adapter to the raw
socket and to zookeeper-client measured in the same run) and a JSON file.
Usage: summarize.py RESULTS.txt RESULTS.json"""
import collections, json, re, statistics, sys

rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=([^ ]+)", line))
    if "workload" in kv and "client" in kv:
        rows[(kv["workload"], kv["client"])].append(kv)

def med(rs, key):
    vals = [float(r[key]) for r in rs if key in r]
    return statistics.median(vals) if vals else None

summary = {}
# W6-W8 report their own figures: the medians of every number they print.
EXTRA = ("W6", "W7", "W8")
SKIP = {"client", "workload", "round"}
for (w, c), rs in sorted(rows.items()):
    if w in EXTRA:
        keys = [k for k in rs[0] if k not in SKIP]
        summary.setdefault(w, {})[c] = {k: med(rs, k) for k in keys}
        summary[w][c]["rounds"] = len(rs)
        continue
    n = med(rs, "ops") or med(rs, "watches") or 1.0
    s = {
        "rounds": len(rs),
        "ops_per_s": med(rs, "ops_per_s"),
        "ops_per_s_min": min((float(r["ops_per_s"]) for r in rs if "ops_per_s" in r), default=None),
        "ops_per_s_max": max((float(r["ops_per_s"]) for r in rs if "ops_per_s" in r), default=None),
        "p50_us": med(rs, "p50_us"),
        "p99_us": med(rs, "p99_us"),
        "create_ops_per_s": med(rs, "create_ops_per_s"),
        "delete_ops_per_s": med(rs, "delete_ops_per_s"),
        "secs_trigger_to_all_events": med(rs, "secs_trigger_to_all_events"),
        "client_cpu_us_per_op": None if med(rs, "client_cpu_s") is None else med(rs, "client_cpu_s") / n * 1e6,
        "server_cpu_s": med(rs, "server_cpu_s"),
        "peak_rss_mb": None if med(rs, "rss_kb") is None else med(rs, "rss_kb") / 1024,
        "allocs_per_op": med(rs, "allocs_per_op"),
    }
    summary.setdefault(w, {})[c] = s

def fmt(v, spec="%.0f"):
    return "—" if v is None else spec % v

def ratio(a, b):
    return None if a is None or not b else a / b

def times(v):
    return "—" if v is None else "%.2f×" % v

for w, clients in summary.items():
    print("\n### %s\n" % w)
    if w in EXTRA:
        keys = sorted({k for s in clients.values() for k in s if k != "rounds"})
        print("| client | " + " | ".join(keys) + " |")
        print("|---|" + "---|" * len(keys))
        for c, s in clients.items():
            print("| %s | %s |" % (c, " | ".join(fmt(s.get(k), "%g") for k in keys)))
        continue
    if w == "W5":
        print("| client | s to all events | client CPU µs/op | peak RSS MB | server CPU s | vs raw | vs zookeeper-client |")
        print("|---|---|---|---|---|---|---|")
    else:
        print("| client | ops/s | min–max | p50 µs | p99 µs | client CPU µs/op | allocs/op | peak RSS MB | server CPU s | vs raw (ops/s, CPU/op) | vs zookeeper-client (ops/s, CPU/op) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
    raw, zkc = clients.get("raw-socket"), clients.get("zookeeper-client")
    for c, s in clients.items():
        if w == "W5":
            key = "secs_trigger_to_all_events"
            vs = lambda p: "—" if not p or not c.startswith("kazoo-rs") else "%s time, %s CPU" % (
                times(ratio(s[key], p[key])), times(ratio(s["client_cpu_us_per_op"], p["client_cpu_us_per_op"])))
            print("| %s | %s | %s | %s | %s | %s | %s |" % (c, fmt(s[key], "%.3f"), fmt(s["client_cpu_us_per_op"], "%.1f"),
                fmt(s["peak_rss_mb"], "%.1f"), fmt(s["server_cpu_s"], "%.2f"), vs(raw), vs(zkc)))
            s["vs_zookeeper_client_time"] = ratio(s[key], zkc[key]) if zkc else None
            continue
        vs = lambda p: "—" if not p or not c.startswith("kazoo-rs") else "%s, %s" % (
            times(ratio(s["ops_per_s"], p["ops_per_s"])),
            times(ratio(s["client_cpu_us_per_op"], p["client_cpu_us_per_op"])))
        for name, p in (("raw", raw), ("zookeeper_client", zkc)):
            if p and c.startswith("kazoo-rs"):
                s["vs_%s_ops" % name] = ratio(s["ops_per_s"], p["ops_per_s"])
                s["vs_%s_cpu" % name] = ratio(s["client_cpu_us_per_op"], p["client_cpu_us_per_op"])
                s["vs_%s_p50" % name] = ratio(s["p50_us"], p["p50_us"])
                s["vs_%s_p99" % name] = ratio(s["p99_us"], p["p99_us"])
        minmax = "—" if s["ops_per_s_min"] is None else "%.0f–%.0f" % (s["ops_per_s_min"], s["ops_per_s_max"])
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (c, fmt(s["ops_per_s"]), minmax,
            fmt(s["p50_us"], "%.1f"), fmt(s["p99_us"], "%.1f"), fmt(s["client_cpu_us_per_op"], "%.1f"),
            fmt(s["allocs_per_op"], "%.2f"), fmt(s["peak_rss_mb"], "%.1f"), fmt(s["server_cpu_s"], "%.2f"), vs(raw), vs(zkc)))

json.dump(summary, open(sys.argv[2], "w"), indent=2)
print("\nbench: results in %s" % sys.argv[2])
