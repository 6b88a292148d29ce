# GET /metrics and the retained hausbus/v1/metrics/<component> snapshots on a running stack.
import http.client
import json
import re
import shutil
import signal
import subprocess
import time
import unittest
import uuid

from board_events import BoardStream
from hausbus_harness import COMPONENTS, VALGRIND, StackTestCase, mint_token

USER = 6101
# Snapshots every 100 ms: the test waits for values, never for a fixed time.
INTERVAL_ENV = {"HAUSBUS_METRICS_INTERVAL_MS": "100"}
WAIT_S = 60.0 if VALGRIND else 15.0
SECRET = "e2e-metrics-secret-0123456789abcdef-0123456"
PREFIX = "hausbus/v1/"

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def _unescape(value):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_exposition(text):
    """The text format 0.0.4 as {(name, ((label, value), ...)): float} and {name: type}.
    Raises ValueError on a line that is not a comment, a sample or empty."""
    samples, types = {}, {}
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError("not a sample line: %r" % line)
        labels = ()
        if m.group(2):
            pairs = _LABEL.findall(m.group(2))
            if "".join('%s="%s",' % p for p in pairs).rstrip(",") != m.group(2):
                raise ValueError("bad labels: %r" % line)
            labels = tuple(sorted((k, _unescape(v)) for k, v in pairs))
        key = (m.group(1), labels)
        if key in samples:
            raise ValueError("duplicate series: %r" % line)
        samples[key] = float(m.group(3))
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


class MetricsTest(StackTestCase):
    stack_env = INTERVAL_ENV

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.paid_events = cls.stack.subscribe(PREFIX + "evt/payment/PaymentApproved", qos=1)
        try:
            cls.run_orders()
        except BaseException:
            cls.paid_events.close()
            cls.stack.print_logs()
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "paid_events", None) is not None:
            cls.paid_events.close()
        super().tearDownClass()

    @classmethod
    def run_orders(cls):
        """Four orders: one paid, one delivered, one rejected for stock, one cancelled."""
        self = cls("runTest")
        stack = cls.stack
        sofa = self.create_product("Sofa Ektorp", 100, 500)
        last = self.create_product("Lamp Hektar", 1, 40)
        cls.paid = self.place(sofa, 1, USER)
        cls.delivered = self.place(sofa, 1, USER)
        cls.rejected = self.place(last, 5, USER)
        cls.cancelled = self.place(sofa, 1, USER)
        self.wait_order(cls.paid, "PAID")
        self.wait_order(cls.rejected, "REJECTED")
        self.wait_order(cls.cancelled, "PAID")
        delivery = self.wait_delivery(cls.delivered, "RECEIVED")
        for step in ("confirm", "start", "complete"):
            stack.post("/deliveries/%d/%s" % (delivery["id"], step), expect=200)
        self.wait_order(cls.delivered, "DELIVERED")
        stack.post("/orders/%d/cancel" % cls.cancelled, expect=202)
        self.wait_order(cls.cancelled, "CANCELLED")

    def runTest(self):  # lets run_orders borrow the helpers of an instance
        pass

    def scrape(self):
        """GET /metrics: (status, content type, parsed samples, types)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.http_port, timeout=15)
        try:
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            text = resp.read().decode("utf-8")
            samples, types = parse_exposition(text) if resp.status == 200 else ({}, {})
            return resp.status, resp.getheader("Content-Type"), samples, types
        finally:
            conn.close()

    def wait_metrics(self, pred, what):
        """Scrapes until pred(samples) holds; returns the samples."""
        return self.stack.wait_for(lambda: self.scrape()[2], WAIT_S, until=pred, what=what,
                                   interval=0.1)

    def expected_saga(self, samples):
        return (value(samples, "hausbus_orders_placed_total") == 4 and
                value(samples, "hausbus_orders_paid_total") == 3 and
                value(samples, "hausbus_orders_delivered_total") == 1 and
                value(samples, "hausbus_orders_cancelled_total") == 1 and
                value(samples, "hausbus_orders_rejected_total", reason="out_of_stock") == 1 and
                [k for k in samples if k[0] == "hausbus_orders_rejected_total"] ==
                [("hausbus_orders_rejected_total", (("reason", "out_of_stock"),))])

    def check_histogram(self, samples, name, **labels):
        """Buckets cumulative and ending in +Inf = _count; returns _count."""
        buckets = sorted((float(dict(l)["le"]), v) for (n, l), v in samples.items()
                         if n == name + "_bucket" and
                         all(dict(l).get(k) == w for k, w in labels.items()))
        self.assertTrue(buckets, "no buckets for %s %r" % (name, labels))
        self.assertEqual(buckets[-1][0], float("inf"))
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), "buckets are not cumulative")
        count = value(samples, name + "_count", **labels)
        self.assertEqual(buckets[-1][1], count)
        self.assertIsNotNone(value(samples, name + "_sum", **labels))
        return count

    def test_saga_counters_and_step_latencies(self):
        samples = self.wait_metrics(self.expected_saga, "the saga counters of 4 orders")
        status, content_type, _, types = self.scrape()
        self.assertEqual(status, 200)
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"), content_type)
        self.assertEqual(types["hausbus_orders_placed_total"], "counter")
        self.assertEqual(types["hausbus_saga_step_duration_seconds"], "histogram")
        self.assertEqual(self.check_histogram(samples, "hausbus_saga_step_duration_seconds",
                                              step="placed_to_paid"), 3)
        for step in ("paid_to_preparing", "preparing_to_shipping", "shipping_to_delivered"):
            self.assertEqual(self.check_histogram(
                samples, "hausbus_saga_step_duration_seconds", step=step), 1)

    def test_http_requests_by_route_method_and_code(self):
        before = self.scrape()[2]
        for _ in range(2):
            status, _, _ = self.stack.request("GET", "/no/such/thing")
            self.assertEqual(status, 404)
        self.stack.request("GET", "/orders/%d" % self.paid)
        samples = self.scrape()[2]
        self.assertEqual(value(samples, "hausbus_http_requests_total", route="/orders",
                               method="POST", code="202"), 4)
        unmatched = dict(route="unmatched", method="GET", code="404")
        self.assertEqual(value(samples, "hausbus_http_requests_total", **unmatched),
                         (value(before, "hausbus_http_requests_total", **unmatched) or 0) + 2)
        self.assertGreaterEqual(value(samples, "hausbus_http_requests_total",
                                      route="/orders/{id}", method="GET", code="200"), 1)
        self.assertGreaterEqual(value(samples, "hausbus_http_requests_total",
                                      route="/metrics", method="GET", code="200"), 1)
        self.assertGreaterEqual(self.check_histogram(
            samples, "hausbus_http_request_duration_seconds", route="/orders"), 4)

    def test_fast_answers_sum_above_zero(self):
        # /healthz answers in well under a millisecond: a sum kept in milliseconds was 0.
        for _ in range(5):
            self.stack.request("GET", "/healthz")
        samples = self.scrape()[2]
        self.assertGreaterEqual(self.check_histogram(
            samples, "hausbus_http_request_duration_seconds", route="/healthz"), 5)
        self.assertGreater(value(samples, "hausbus_http_request_duration_seconds_sum",
                                 route="/healthz"), 0)

    def test_the_board_stream_is_counted_but_not_in_the_latency_histogram(self):
        with BoardStream(self.stack.http_port) as board:
            self.assertEqual(board.status, 200)
        served = dict(route="/board/events", method="GET", code="200")
        samples = self.wait_metrics(
            lambda s: value(s, "hausbus_http_requests_total", **served) is not None,
            "the closed board stream to be counted")
        self.assertIsNone(value(samples, "hausbus_http_request_duration_seconds_count",
                                route="/board/events"))
        self.assertFalse([k for k in samples if k[0].startswith("hausbus_http_request_duration")
                          and ("route", "/board/events") in k[1]])

    def test_build_info_and_the_process_family(self):
        status, _, samples, types = self.scrape()
        self.assertEqual(status, 200)
        build = [k for k in samples if k[0] == "hausbus_build_info"]
        self.assertEqual(len(build), 1)
        self.assertEqual(samples[build[0]], 1)
        self.assertRegex(dict(build[0][1])["version"], r"^\d+\.\d+\.\d+$")
        for name, kind in (("process_cpu_seconds_total", "counter"),
                           ("process_resident_memory_bytes", "gauge"),
                           ("process_virtual_memory_bytes", "gauge"),
                           ("process_start_time_seconds", "gauge"),
                           ("process_open_fds", "gauge"), ("process_max_fds", "gauge")):
            self.assertEqual(types.get(name), kind, name)
            # A fresh gateway may not have used a full clock tick of CPU yet.
            minimum = 0 if name == "process_cpu_seconds_total" else 1
            self.assertGreaterEqual(value(samples, name), minimum, name)
        self.assertLessEqual(value(samples, "process_start_time_seconds"), time.time() + 1)
        self.assertGreater(value(samples, "process_start_time_seconds"), time.time() - 3600)

    @unittest.skipUnless(shutil.which("promtool"), "promtool (Debian package prometheus)")
    def test_the_page_passes_promtool(self):
        self.wait_metrics(self.expected_saga, "the saga counters of 4 orders")
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.http_port, timeout=15)
        try:
            conn.request("GET", "/metrics")
            page = conn.getresponse().read()
        finally:
            conn.close()
        checked = subprocess.run(["promtool", "check", "metrics"], input=page,
                                 capture_output=True, timeout=60)
        # Exit 0: no errors; lint findings (naming advice) would be printed and fail too.
        self.assertEqual((checked.returncode, checked.stdout + checked.stderr), (0, b""))

    def test_component_metrics_and_retained_snapshots(self):
        def all_reported(samples):
            return all(value(samples, "hausbus_component_up", component=c) == 1 and
                       value(samples, "hausbus_outbox_pending", component=c) is not None
                       for c in COMPONENTS) and self.expected_saga(samples)
        samples = self.wait_metrics(all_reported, "every component up and reporting")
        self.assertEqual(value(samples, "hausbus_component_up", component="gateway"), 1)
        placed = value(samples, "hausbus_messages_handled_total", component="order",
                       topic=PREFIX + "cmd/order/place")
        self.assertEqual(placed, 4)
        self.assertGreaterEqual(value(samples, "hausbus_messages_published_total",
                                      component="order",
                                      topic=PREFIX + "evt/order/OrderPlaced"), 4)
        self.assertEqual(value(samples, "hausbus_dead_letters_total", component="order"), 0)
        with self.stack.subscribe(PREFIX + "metrics/+") as sub:
            snapshots = sub.wait(lambda m: {x["topic"]: json.loads(x["payload"]) for x in m}
                                 if {x["topic"] for x in m} >=
                                 {PREFIX + "metrics/" + c for c in COMPONENTS} else None,
                                 WAIT_S)
        for c in COMPONENTS:
            snap = snapshots[PREFIX + "metrics/" + c]
            self.assertEqual(snap["component"], c)
            for key in ("time", "startedAt", "handled", "published", "deadLetters",
                        "handlerErrors", "duplicates", "outboxPending"):
                self.assertIn(key, snap, c)
            self.assertRegex(snap["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertEqual("saga" in snap, c == "order")
        saga = snapshots[PREFIX + "metrics/order"]["saga"]
        self.assertEqual((saga["placed"], saga["paid"], saga["cancelled"], saga["delivered"],
                          saga["rejected"]), (4, 3, 1, 1, {"out_of_stock": 1}))
        self.assertEqual(saga["stepLatencyMs"]["placed_to_paid"]["count"], 3)
        # The edge product -> order of the contract: order handled product's events.
        self.assertGreaterEqual(
            snapshots[PREFIX + "metrics/order"]["handled"][PREFIX + "evt/product/StockReserved"], 3)

    def test_saga_counts_stay_exact_after_a_duplicate_and_a_restart(self):
        approvals = dict(component="order", topic=PREFIX + "evt/payment/PaymentApproved")
        before = self.wait_metrics(
            lambda s: self.expected_saga(s) and
            value(s, "hausbus_messages_handled_total", **approvals) == 3,
            "the saga counters of 4 orders and their 3 payments")
        approved = self.paid_events.wait(
            lambda m: [x["payload"] for x in m
                       if json.loads(x["payload"])["data"]["orderId"] == self.paid], WAIT_S)[0]
        duplicates = value(before, "hausbus_duplicates_total", component="order")
        # The very same event again (a redelivery), and under a new id (a replay).
        replayed = json.loads(approved)
        replayed["id"] = str(uuid.uuid4())
        self.stack.mqtt_pub(PREFIX + "evt/payment/PaymentApproved", approved)
        self.stack.mqtt_pub(PREFIX + "evt/payment/PaymentApproved", json.dumps(replayed))
        samples = self.wait_metrics(
            lambda s: value(s, "hausbus_messages_handled_total", **approvals) == 5,
            "order to take in the duplicate and the replay")
        self.assertEqual(value(samples, "hausbus_duplicates_total", component="order"),
                         duplicates + 1)
        self.assertTrue(self.expected_saga(samples), samples)

        with self.stack.subscribe(PREFIX + "metrics/order") as sub:
            started = sub.wait(lambda m: m, WAIT_S)
            first_start = json.loads(started[0]["payload"])["startedAt"]
        self.stack.kill("order", signal.SIGTERM)
        self.stack.start("order", wait=True)
        with self.stack.subscribe(PREFIX + "metrics/order") as sub:
            sub.wait(lambda m: any(json.loads(x["payload"])["startedAt"] != first_start
                                   for x in m), WAIT_S)
        samples = self.wait_metrics(
            lambda s: value(s, "hausbus_component_up", component="order") == 1 and
            value(s, "hausbus_duplicates_total", component="order") is not None and
            value(s, "hausbus_messages_handled_total", component="order",
                  topic=PREFIX + "cmd/order/place") is None,
            "the restarted order's first snapshot (its message counters start again)")
        self.assertTrue(self.expected_saga(samples), samples)


def mint(role, uid=None):
    return mint_token(SECRET, role, uid)


class MetricsWithTokensTest(StackTestCase):
    """With tokens on, /metrics is for the admin role, as a Prometheus scrape job sends it."""
    stack_env = dict(INTERVAL_ENV, HAUSBUS_AUTH="on", HAUSBUS_AUTH_SECRET=SECRET)

    def test_metrics_need_an_admin_token(self):
        status, headers, _ = self.stack.request("GET", "/metrics")
        self.assertEqual(status, 401)
        self.assertIn("www-authenticate", headers)
        for role, uid in (("customer", USER), ("brand", None)):
            status, _, body = self.stack.request(
                "GET", "/metrics", headers={"Authorization": "Bearer " + mint(role, uid)})
            self.assertEqual(status, 403, (role, body))
        status, headers, _ = self.stack.request(
            "GET", "/metrics", headers={"Authorization": "Bearer " + mint("admin")})
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
