#!/usr/bin/env python3
# saga_load against this checkout's build on PostgreSQL with 1, 2, 3 replicas per component,
# and on sqlite beside them, alternated in one run.
"""Usage: bench/replicas.py [--replicas 1,2,3] [--rounds N] [--orders N] [--concurrency C]
                            [--sqlite] [--jsonl FILE] [-- saga_load args...]

Each run starts a private broker, a private PostgreSQL 15 (tests/e2e/pg_server.py:
initdb in a temp dir, loopback port, fsync off) and the components through the e2e
harness (tests/e2e/hausbus_harness.py), with R processes of each component on the
database (the harness's own one and R - 1 replicas, HAUSBUS_INSTANCE r2, r3, ...), then
bench/saga_load.py against the gateway. --sqlite adds a run of the same stack on sqlite
(one process each) to every round. Prints one line per run: store, replicas, completed
orders/s, accepted/s, saga p50/p99, services CPU µs per order, the machine's busy share.
Needs build/bin (or HAUSBUS_BIN_DIR) built with libpq. Loopback only; bounded.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import hausbus_harness  # noqa: E402
from hausbus_harness import COMPONENTS, Stack  # noqa: E402


def run_once(store, replicas, args, extra):
    hausbus_harness.POSTGRES = store == "postgresql"
    os.environ["HAUSBUS_E2E_STORE"] = store
    stack = Stack(env={"HAUSBUS_LOG_LEVEL": "warn"}, log_level="warn")
    with stack:
        for component in COMPONENTS:
            for k in range(2, replicas + 1):
                stack.start_replica(component, "r%d" % k)
        pids = os.path.join(stack.tmp, "pids")
        with open(pids, "w") as f:
            for p in stack.procs.values():
                f.write("%d\n" % p.pid)
        out = subprocess.run(
            [sys.executable, os.path.join(HERE, "saga_load.py"),
             "--url", "http://127.0.0.1:%d" % stack.http_port, "--orders", str(args.orders),
             "--concurrency", str(args.concurrency), "--pids-file", pids] + extra,
            capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(store, replicas, d):
    b, c = d["burst"], d["burst"]["cpu"]
    s = (d.get("single") or {}).get("latency_ms", {})
    return ("%-10s %d  completed %6.0f/s  accepted %6.0f/s  saga p50/p99 %s/%s ms  "
            "services %4.0f µs/order  busy %2.0f%%" % (
                store, replicas, d["e2e"]["completed_per_s"], b["accepted_per_s"],
                s.get("p50"), s.get("p99"), c["services_cpu_s"] / d["orders"] * 1e6,
                c["machine_busy_pct_of_all_cores"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--sqlite", action="store_true")
    ap.add_argument("--jsonl")
    ap.add_argument("rest", nargs="*")
    args = ap.parse_args()
    plan = [("postgresql", int(r)) for r in args.replicas.split(",")]
    if args.sqlite:
        plan.insert(0, ("sqlite", 1))
    for _ in range(args.rounds):
        for store, replicas in plan:
            d = run_once(store, replicas, args, args.rest)
            print(row(store, replicas, d), flush=True)
            if args.jsonl:
                with open(args.jsonl, "a") as f:
                    f.write(json.dumps({"store": store, "replicas": replicas, "run": d}) + "\n")


if __name__ == "__main__":
    main()
