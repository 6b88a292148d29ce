# The edge budget: RSS of mosquitto + the all-in-one hausbus, idle, under load and after sagas.
"""Usage: edge.py [ORDERS] [--connections N] [--sagas K] [--profile P] [--idle S]

Starts a private loopback stack as an edge board runs it: mosquitto plus ONE all-in-one
`hausbus` process (tests/e2e/hausbus_harness.py; HAUSBUS_BIN_DIR picks the binaries,
HAUSBUS_LAUNCHER e.g. "qemu-aarch64" runs them under emulation), with the settings of
board/<profile>/defaults.env (paths and ports stay the harness's own). Samples VmRSS of
both processes every 100 ms and reports:
  idle   after start and --idle seconds of nothing
  load   the peak while ORDERS orders (default 500) go in over N connections (default 4)
         and the bench waits for them to reach PAID
  after  when the bus is quiet again, after K orders (default 20) also went through the
         whole saga (brand confirms, delivery starts and completes, notification)
The RSS rows count shared libraries (libc, libcrypto, ...) in both processes; the PSS
row splits them, so its sum is what the stack occupies. Under qemu-user the RSS includes the emulator itself (its code and translation cache):
an upper bound for the board, not the board's figure. So with HAUSBUS_LAUNCHER set the
hausbus column is an estimate of the guest's own pages instead (guest_rss_kb), and the PSS
row is the emulator's process as a whole.
"""
import argparse
import json
import os
import re
import shlex
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, HERE)
from hausbus_harness import Stack  # noqa: E402
from orders import drive  # noqa: E402

# The harness owns where things are and runs the gateway without tokens (no secret here).
HARNESS_KEYS = {"HAUSBUS_MQTT_HOST", "HAUSBUS_MQTT_PORT", "HAUSBUS_HTTP_PORT",
                "HAUSBUS_HTTP_BIND", "HAUSBUS_DATA_DIR", "HAUSBUS_COMPONENTS", "HAUSBUS_AUTH"}


def profile_env(profile):
    """The HAUSBUS_* assignments of board/<profile>/defaults.env ({} without a profile)."""
    if not profile:
        return {}
    path = os.path.join(ROOT, "board", profile, "defaults.env")
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            key = key.strip()
            if key.startswith("HAUSBUS_") and key not in HARNESS_KEYS:
                env[key] = value.strip().strip('"')
    return env


def vm_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# Under qemu-user the host process holds the emulator and the guest. The guest's mappings
# (its programs and libraries from the sysroot, its heap, stacks and anonymous memory) lie
# below the host's mmap area; the emulator's own are its binary, its brk heap, and its
# libraries and translation cache up in the host's mmap area.
HOST_MMAP_START = 0x7000_0000_0000
HOST_ONLY = {"[heap]", "[stack]", "[vdso]", "[vvar]", "[vsyscall]"}


def guest_rss_kb(pid):
    """An estimate of the emulated program's own RSS (see above); the plain VmRSS when no
    launcher is used."""
    launcher = shlex.split(os.environ.get("HAUSBUS_LAUNCHER", ""))
    if not launcher:
        return vm_rss_kb(pid)
    emulator = os.path.basename(launcher[0])
    total = 0
    start = name = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                m = re.match(r"^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$", line)
                if m:
                    start, name = int(m.group(1), 16), m.group(2)
                elif line.startswith("Rss:") and start is not None:
                    if (start < HOST_MMAP_START and name not in HOST_ONLY
                            and os.path.basename(name) != emulator):
                        total += int(line.split()[1])
    except OSError:
        return 0
    return total


def pss_kb(pid):
    """Proportional set size: shared library pages split among the processes mapping them,
    so the two processes' values add up to what the stack occupies."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler:
    """Samples VmRSS of the broker and hausbus every 100 ms; keeps the peak of each and of
    their sum."""

    def __init__(self, stack):
        self.pids = {"broker": stack.procs["broker"].pid, "hausbus": stack.procs["hausbus"].pid}
        self.peak = {"broker": 0, "hausbus": 0, "total": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self):
        sample = {"broker": vm_rss_kb(self.pids["broker"]),
                  "hausbus": guest_rss_kb(self.pids["hausbus"])}
        sample["total"] = sample["broker"] + sample["hausbus"]
        return sample

    def _run(self):
        while not self._stop.wait(0.1):
            for name, kb in self.now().items():
                self.peak[name] = max(self.peak[name], kb)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


def wait_quiet(stack, seconds=2.0, timeout=60.0):
    """Waits until the bus carries nothing for `seconds` (the saga has settled)."""
    with stack.subscribe("hausbus/v1/#") as bus:
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            count = len(bus.messages())
            if count == last:
                return
            last = count
            time.sleep(seconds)


def full_sagas(stack, product_id, count, user_id):
    """count orders through the whole saga to DELIVERED and notified."""
    ids = []
    for _ in range(count):
        status, _, order = stack.request("POST", "/orders",
                                         {"productId": product_id, "qty": 1, "userId": user_id})
        if status != 202:
            sys.exit("order refused: %d %r" % (status, order))
        ids.append(order["id"])
    for order_id in ids:
        deliveries = stack.wait_for(lambda: stack.get("/deliveries?orderId=%d" % order_id),
                                    timeout=60.0, what="delivery of order %d" % order_id)
        delivery_id = deliveries[0]["id"]
        for step in ("confirm", "start", "complete"):
            stack.post("/deliveries/%d/%s" % (delivery_id, step), expect=200)
    for order_id in ids:
        stack.wait_for(lambda: stack.get("/orders/%d" % order_id)["status"] == "DELIVERED",
                       timeout=60.0, what="order %d delivered" % order_id)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("orders", nargs="?", type=int, default=500)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--sagas", type=int, default=20)
    ap.add_argument("--profile", default=None, help="board/<profile>/defaults.env to apply")
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for PAID")
    args = ap.parse_args()

    env = profile_env(args.profile)
    env.setdefault("HAUSBUS_LOG_LEVEL", "warn")
    with Stack(env=env, log_level=env["HAUSBUS_LOG_LEVEL"], allinone=True) as stack:
        sampler = Sampler(stack)
        time.sleep(args.idle)
        idle = sampler.now()
        status, _, product = stack.request("POST", "/products",
                                           {"productName": "edge", "stock": 10 ** 9, "price": 1})
        if status != 201:
            sys.exit("cannot create the product: %d %r" % (status, product))
        with sampler:
            t0 = time.monotonic()
            started, refused = drive(stack, product["id"], args.orders, args.connections)
            pending = set(started)
            deadline = time.monotonic() + args.timeout
            while pending and time.monotonic() < deadline:
                _, _, orders = stack.request("GET", "/orders?userId=1")
                pending -= {o["id"] for o in orders or [] if o["status"] == "PAID"}
                time.sleep(0.2)
            load_s = time.monotonic() - t0
            full_sagas(stack, product["id"], args.sagas, user_id=2)
        wait_quiet(stack)
        after = sampler.now()
        after_pss = {name: pss_kb(pid) for name, pid in sampler.pids.items()}
        after_pss["total"] = after_pss["broker"] + after_pss["hausbus"]
        if pending:
            sys.exit("%d orders did not reach PAID within %.0f s" % (len(pending), args.timeout))

    print("profile: %s; launcher: %s" % (args.profile or "(none)",
                                         os.environ.get("HAUSBUS_LAUNCHER") or "(native)"))
    print("load: %d orders over %d connections to PAID in %.1f s (%.0f/s), refused %d; "
          "then %d full sagas" % (len(started), args.connections, load_s,
                                  len(started) / max(load_s, 1e-9), len(refused), args.sagas))
    print("| state | mosquitto | hausbus (all-in-one) | edge stack |")
    print("|---|---|---|---|")
    for label, sample in (("idle", idle), ("peak under load", sampler.peak),
                          ("after the sagas", after), ("after the sagas, PSS", after_pss)):
        print("| %s | %.1f MiB | %.1f MiB | %.1f MiB |" % (
            label, sample["broker"] / 1024.0, sample["hausbus"] / 1024.0,
            sample["total"] / 1024.0))
    print(json.dumps({"idle": idle, "peak": sampler.peak, "after": after,
                      "after_pss": after_pss}))


if __name__ == "__main__":
    main()
