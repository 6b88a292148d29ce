# Drives POST /orders at a private stack and reports throughput, POST->PAID latency, bus load and RSS.
"""Usage: orders.py [ORDERS] [--connections N] [--timeout S] [--log-level L] [--allinone]

Starts broker, components and gateway via tests/e2e/hausbus_harness.py (HAUSBUS_BIN_DIR
picks the binaries; --allinone runs them as one hausbus process), places ORDERS orders (default 2000) over N keep-alive connections
and waits for every accepted one to reach PAID, bounded by --timeout.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from hausbus_harness import Stack  # noqa: E402


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100.0 * len(sorted_values)))]


def drive(stack, product, total, connections):
    """Posts total orders from `connections` threads; returns {order id: POST start time}."""
    next_index = iter(range(total))
    lock = threading.Lock()
    started = {}
    refused = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=30)
        body = json.dumps({"productId": product, "qty": 1, "userId": 1}).encode()
        headers = {"Content-Type": "application/json"}
        while True:
            with lock:
                if next(next_index, None) is None:
                    break
            t0 = time.monotonic()
            try:
                conn.request("POST", "/orders", body=body, headers=headers)
                resp = conn.getresponse()
                answer = resp.read()
            except (OSError, http.client.HTTPException) as e:
                # A server that closes a keep-alive connection: count it and go on afresh.
                conn.close()
                with lock:
                    refused.append(repr(e))
                continue
            with lock:
                if resp.status == 202:
                    started[json.loads(answer)["id"]] = t0
                else:
                    refused.append(resp.status)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return started, refused


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("orders", nargs="?", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for PAID")
    ap.add_argument("--log-level", default="warn")
    ap.add_argument("--allinone", action="store_true",
                    help="components and gateway as one hausbus process (the broker apart)")
    args = ap.parse_args()

    with Stack(log_level=args.log_level, allinone=args.allinone) as stack:
        status, _, product = stack.request("POST", "/products",
                                           {"productName": "bench", "stock": 10 ** 9, "price": 1})
        if status != 201:
            sys.exit("cannot create the product: %d %r" % (status, product))
        with stack.subscribe("hausbus/#") as bus:
            # Retained status messages arrive at subscription; they are not the run's traffic.
            baseline = len(bus.messages())
            t_start = time.monotonic()
            started, refused = drive(stack, product["id"], args.orders, args.connections)
            t_accepted = time.monotonic()

            paid = {}
            seen = baseline
            deadline = t_accepted + args.timeout
            while len(paid) < len(started) and time.monotonic() < deadline:
                messages = bus.messages()
                for m in messages[seen:]:
                    if not m["topic"].startswith("hausbus/v1/evt/order/"):
                        continue
                    try:
                        event = json.loads(m["payload"])
                        if event["data"].get("status") == "PAID":
                            paid.setdefault(int(event["subject"]), m["t"])
                    except (ValueError, KeyError, TypeError, AttributeError):
                        pass
                seen = len(messages)
                time.sleep(0.05)
            # The saga goes on after PAID (delivery, view); count until the bus is quiet.
            quiet_deadline = time.monotonic() + 10
            count = len(bus.messages())
            while time.monotonic() < quiet_deadline:
                time.sleep(0.5)
                now = len(bus.messages())
                if now == count:
                    break
                count = now
            traffic = count - baseline
        rss = stack.rss_kb()
        pss = stack.rss_kb("Pss")

    latencies = sorted((paid[i] - started[i]) * 1000.0 for i in paid if i in started)
    accept_s = t_accepted - t_start
    last_paid = max(paid.values()) if paid else t_start
    print("orders requested: %d over %d connections" % (args.orders, args.connections))
    print("accepted (202):   %d in %.2f s = %.0f orders/s%s" % (
        len(started), accept_s, len(started) / accept_s,
        "  (refused/failed: %d, e.g. %r)" % (len(refused), refused[:3]) if refused else ""))
    print("reached PAID:     %d in %.2f s = %.0f orders/s" % (
        len(paid), last_paid - t_start, len(paid) / max(last_paid - t_start, 1e-9)))
    print("POST->PAID:       p50 %.1f ms, p99 %.1f ms" % (percentile(latencies, 50),
                                                         percentile(latencies, 99)))
    print("broker messages:  %d = %.1f per order" % (traffic, traffic / max(len(started), 1)))
    print("RSS after run:    " + ", ".join("%s %d kB" % kv for kv in sorted(rss.items()))
          + "; total %d kB" % sum(rss.values()))
    print("PSS after run:    " + ", ".join("%s %d kB" % kv for kv in sorted(pss.items()))
          + "; total %d kB" % sum(pss.values()))
    if len(paid) < len(started):
        sys.exit("only %d of %d accepted orders reached PAID within %.0f s"
                 % (len(paid), len(started), args.timeout))


if __name__ == "__main__":
    main()
