# The all-in-one hausbus: the saga, crashes, a mixed deployment and its exit codes.
import itertools
import json
import os
import signal
import socket
import subprocess
import tempfile
import unittest

from hausbus_harness import (ALLINONE, COMPONENTS, LAUNCHER, POSTGRES, PROCESSES,
                             SANITIZER_MARKERS, TIMEOUT_SCALE, VALGRIND, StackTestCase, bin_dir,
                             free_port)

_users = itertools.count(7001)
# Orders put through before the memory is read: enough to fill sqlite's page caches and
# every malloc arena in use (fewer under valgrind, where each costs ~100x the time).
RSS_ORDERS = 20 if VALGRIND else 300
# The aim is 8 MiB; the test fails well above it so that only a real regression trips it.
# On sqlite libpq is never loaded (lib/src/store_pg.c loads it for a PostgreSQL URL only);
# on PostgreSQL it brings GnuTLS, Kerberos, LDAP and p11-kit: about 3.5 MiB more.
RSS_LIMIT_KB = (14 if POSTGRES else 12) * 1024


def _sanitized(exe):
    """True for an ASan build: its shadow memory makes RSS meaningless."""
    with open(exe, "rb") as f:
        return b"__asan_init" in f.read()


def run_allinone(env, timeout=30, args=()):
    """Runs bin/hausbus once with env (added to ours); returns the CompletedProcess."""
    exe = os.path.join(bin_dir(), ALLINONE)
    return subprocess.run(LAUNCHER + VALGRIND + [exe] + list(args), env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=timeout * TIMEOUT_SCALE,
                          stdin=subprocess.DEVNULL)


class SagaMixin:
    """The flows both the full all-in-one and the mixed deployment must carry."""

    def deliver(self, order_id):
        delivery_id = self.wait_delivery(order_id, "RECEIVED", timeout=30)["id"]
        self.stack.post("/deliveries/%d/confirm" % delivery_id, expect=200)
        self.stack.post("/deliveries/%d/start" % delivery_id, expect=200)
        self.wait_order(order_id, "SHIPPING")
        self.stack.post("/deliveries/%d/complete" % delivery_id, expect=200)
        self.wait_order(order_id, "DELIVERED")

    def test_readyz_once_every_component_is_online(self):
        # Each component thread has its own MQTT client and retained status, so the
        # gateway beside them sees each come online like a process of its own.
        status, _, body = self.stack.request("GET", "/readyz")
        self.assertEqual((status, body), (200, {"status": "ready", "broker": "connected",
                                               "missing": []}))

    def assert_cancelled_and_compensated(self, order_id, product, stock):
        self.wait_order(order_id, "CANCELLED", timeout=30)
        self.stack.wait_for(lambda: [p["status"] for p in self.payments(order_id)], timeout=30,
                            until=lambda s: s == ["REFUNDED"], what="the one payment REFUNDED")
        self.stack.wait_for(lambda: self.stock(product), timeout=30, until=lambda s: s == stock,
                            what="stock back to %d" % stock)

    def test_saga_to_delivered_and_cancel_after_payment(self):
        user = next(_users)
        product = self.create_product("Table Lisabo", 10, 9000)
        delivered = self.place(product, 2, user)
        self.wait_order(delivered, "PAID")
        self.deliver(delivered)
        self.wait_mypage(user, delivered, orderStatus="DELIVERED", deliveryStatus="DELIVERED",
                         paymentStatus="APPROVED", notified=True)

        cancelled = self.place(product, 3, user)
        self.wait_order(cancelled, "PAID")
        self.assertEqual(self.stock(product), 5)
        self.stack.post("/orders/%d/cancel" % cancelled, expect=202)
        self.assert_cancelled_and_compensated(cancelled, product, 8)
        self.wait_mypage(user, cancelled, orderStatus="CANCELLED", paymentStatus="REFUNDED")
        self.assertEqual([p["status"] for p in self.payments(delivered)], ["APPROVED"])


class AllInOneTest(SagaMixin, StackTestCase):
    stack_allinone = True
    # A board's thread count (board/armhf-small), which the memory aim is for: once they
    # have all served requests, the default 256 workers cost ~35 KiB each (16.8 MiB after
    # the 300 orders, docs/PERFORMANCE.md).
    stack_env = {"HAUSBUS_HTTP_THREADS": "32"}

    def test_one_process_runs_everything_and_names_each_log_line(self):
        self.assertEqual(sorted(self.stack.procs), ["broker", ALLINONE])
        with open(os.path.join(self.stack.tmp, ALLINONE + ".log"), "rb") as f:
            lines = [json.loads(ln) for ln in f.read().decode().splitlines()
                     if ln.startswith("{")]
        names = {ln["component"] for ln in lines}
        for name in PROCESSES:
            self.assertIn(name, names)
        started = [ln["component"] for ln in lines if ln["msg"].startswith("started, data in")]
        self.assertEqual(set(started), set(COMPONENTS))  # the log spans restarts

    def test_probe_passes_for_every_service(self):
        env = dict(self.stack.env, HAUSBUS_PROBE_MAX_AGE_MS="5000")
        answer = self.stack.wait_for(
            lambda: run_allinone(env, args=["--probe"]), timeout=15,
            until=lambda p: p.returncode == 0, what="hausbus --probe to pass")
        for name in PROCESSES:
            self.assertIn("%s: ok" % name, answer.stdout)
        stopped = run_allinone(dict(env, HAUSBUS_PROBE_MAX_AGE_MS="1", HAUSBUS_COMPONENTS="view"),
                               args=["--probe"])
        self.assertEqual(stopped.returncode, 1, stopped.stdout)
        self.assertIn("view: heartbeat is", stopped.stdout)

    def test_kill_9_mid_saga_and_restart_ends_every_order(self):
        user = next(_users)
        product = self.create_product("Shelf Billy", 1000, 700)
        orders = [self.place(product, 1, user) for _ in range(8)]
        self.stack.kill(ALLINONE, signal.SIGKILL)  # sagas in flight in every component
        self.stack.start(ALLINONE)
        for order_id in orders:
            self.wait_order(order_id, "PAID", timeout=30)
        self.assertEqual(self.stock(product), 992)
        to_deliver, to_cancel = orders[:4], orders[4:]
        for order_id in to_cancel:
            self.stack.post("/orders/%d/cancel" % order_id, expect=202)
        self.stack.kill(ALLINONE, signal.SIGKILL)  # compensations in flight
        self.stack.start(ALLINONE)
        for order_id in to_deliver:
            self.deliver(order_id)
        for order_id in to_cancel:
            self.assert_cancelled_and_compensated(order_id, product, 996)
        for order_id in to_deliver:
            self.assertEqual([p["status"] for p in self.payments(order_id)], ["APPROVED"])

    def test_sigterm_exits_0_and_restarts(self):
        self.stack.kill(ALLINONE, signal.SIGTERM)
        self.assertEqual(self.stack.exit_codes().get(ALLINONE), 0)
        self.stack.start(ALLINONE)
        self.settle()

    def test_memory_after_a_few_hundred_orders(self):
        user = next(_users)
        product = self.create_product("Chair Ingolf", 10 ** 6, 100)
        orders = [self.place(product, 1, user) for _ in range(RSS_ORDERS)]
        self.wait_order(orders[-1], "PAID", timeout=120)
        self.settle()
        with open("/proc/%d/status" % self.stack.pid(ALLINONE)) as f:
            status = dict(ln.split(":", 1) for ln in f if ":" in ln)
        rss_kb = int(status["VmRSS"].split()[0])
        hwm_kb = int(status["VmHWM"].split()[0])
        print("all-in-one after %d orders: VmRSS %d kB, VmHWM %d kB, %s threads"
              % (RSS_ORDERS, rss_kb, hwm_kb, status["Threads"].strip()))
        exe = os.path.join(bin_dir(), ALLINONE)
        if VALGRIND or LAUNCHER or _sanitized(exe):
            self.skipTest("RSS under valgrind, ASan or an emulator says nothing about the "
                          "plain build")
        self.assertLess(rss_kb, RSS_LIMIT_KB)

    def test_libpq_is_loaded_only_for_postgresql(self):
        with open("/proc/%d/maps" % self.stack.pid(ALLINONE)) as f:
            mapped = "libpq.so" in f.read()
        self.assertEqual(mapped, bool(POSTGRES))


class MixedDeploymentTest(SagaMixin, StackTestCase):
    """order, product and payment in one hausbus; delivery, notification, view and the
    gateway as their own processes, all on one broker."""
    stack_allinone = ("order", "product", "payment")

    def test_processes_and_probe(self):
        self.assertEqual(sorted(self.stack.procs),
                         sorted(["broker", ALLINONE, "delivery", "notification", "view",
                                 "gateway"]))
        env = dict(self.stack.env, HAUSBUS_COMPONENTS="order,product,payment")
        answer = self.stack.wait_for(
            lambda: run_allinone(env, args=["--probe"]), timeout=15,
            until=lambda p: p.returncode == 0, what="hausbus --probe to pass")
        self.assertEqual(answer.stdout.split(), ["order:", "ok", "product:", "ok", "payment:", "ok"])


class ExitCodeTest(unittest.TestCase):
    """What hausbus says and does when it cannot run: no broker needed for any of it."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="hausbus-allinone-")
        self.env = {"HAUSBUS_DATA_DIR": os.path.join(self.tmp.name, "data"),
                    "HAUSBUS_MQTT_PORT": str(free_port()), "HAUSBUS_HTTP_PORT": str(free_port()),
                    "HAUSBUS_AUTH": "open",
                    # assert_stopped_cleanly reads the info line "stopped", whatever level a
                    # board profile (HAUSBUS_LAUNCHER runs) set.
                    "HAUSBUS_LOG_LEVEL": "info"}

    def tearDown(self):
        self.tmp.cleanup()

    def assert_stopped_cleanly(self, proc):
        """Every thread was stopped and joined, and no sanitizer had anything to say."""
        self.assertIn('"msg":"stopped"', proc.stderr)
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, proc.stderr)

    def test_bad_component_lists_exit_2_with_a_reason(self):
        cases = {
            "order,bogus": 'unknown component \\"bogus\\"',
            "order,view,order": 'names \\"order\\" twice',
            "": "HAUSBUS_COMPONENTS is empty",
            "order,,view": "empty name",
        }
        for value, reason in cases.items():
            with self.subTest(value=value):
                proc = run_allinone(dict(self.env, HAUSBUS_COMPONENTS=value))
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(reason, proc.stderr)
        proc = run_allinone(self.env, args=["--bogus"])
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("usage", proc.stderr)

    def test_a_component_that_cannot_start_stops_the_process(self):
        # A directory where payment's database should be: sqlite cannot open it.
        os.makedirs(os.path.join(self.env["HAUSBUS_DATA_DIR"], "payment.db"))
        proc = run_allinone(self.env)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("component payment ended with exit code 1; stopping the others",
                      proc.stderr)
        self.assert_stopped_cleanly(proc)

    def test_a_gateway_that_cannot_listen_stops_the_process(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            proc = run_allinone(dict(self.env, HAUSBUS_HTTP_PORT=str(port)))
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("cannot start the HTTP server", proc.stderr)
        self.assert_stopped_cleanly(proc)


if __name__ == "__main__":
    unittest.main()
