# Concurrent requests to one command share batched bus messages, each answered as its own.
import collections
import http.client
import json
import re
import threading
import unittest

from hausbus_harness import HTTP_TIMEOUT_S, VALGRIND, StackTestCase, Subscriber

CLIENTS = 64
ROUNDS = 3
USER = 7301
PLACE_TOPIC = "hausbus/v1/cmd/order/place"
BATCH_TYPE = "application/cloudevents-batch+json"
WAIT_S = 120.0 if VALGRIND else 60.0
_COUNTER = re.compile(r"^(hausbus_gateway_request_batch(?:es|_items)_total) (\S+)$", re.M)


class Clients:
    """CLIENTS threads, each with its own keep-alive connection, that send their requests
    of a round at the same moment (a barrier), so that the gateway sees them at once."""

    def __init__(self, port):
        self.port = port

    def run(self, requests):
        """requests: one list per client of (method, path, body or None). Returns the
        answers as {(client, i): (status, location, parsed body)}."""
        answers = {}
        lock = threading.Lock()
        barrier = threading.Barrier(len(requests))

        def send(conn, method, path, body):
            headers = {"Content-Type": "application/json"} if body else {}
            conn.request(method, path, body=body, headers=headers)
            return conn.getresponse()

        def client(n, mine):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S)
            try:
                for i, (method, path, body) in enumerate(mine):
                    barrier.wait(timeout=HTTP_TIMEOUT_S * 2)
                    try:
                        resp = send(conn, method, path, body)
                    except (BrokenPipeError, ConnectionResetError,
                            http.client.RemoteDisconnected):
                        # civetweb closes a keep-alive connection idle for 500 ms (a
                        # round under memcheck takes longer) without reading from it.
                        conn.close()
                        resp = send(conn, method, path, body)
                    raw = resp.read()
                    parsed = json.loads(raw) if raw else None
                    with lock:
                        answers[(n, i)] = (resp.status, resp.getheader("Location"), parsed)
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(n, mine), daemon=True)
                   for n, mine in enumerate(requests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HTTP_TIMEOUT_S * (len(requests[0]) + 1))
        return answers


def answered(messages):
    """The correlation data of every reply among messages."""
    return {m["properties"].get("correlation-data") for m in messages
            if m["topic"].startswith("hausbus/v1/reply/")}


class CoalesceCase(StackTestCase):
    """The checks both configurations share: the answers are each request's own."""

    def batch_counters(self):
        """(batched messages, requests in them) from GET /metrics."""
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.http_port, timeout=10)
        try:
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            text = resp.read().decode()
            self.assertEqual(resp.status, 200, text[:200])
        finally:
            conn.close()
        counters = {name: float(v) for name, v in _COUNTER.findall(text)}
        self.assertEqual(len(counters), 2, "batch counters missing from GET /metrics")
        return (counters["hausbus_gateway_request_batches_total"],
                counters["hausbus_gateway_request_batch_items_total"])

    def place_concurrently(self, user):
        """ROUNDS rounds of CLIENTS orders at once; returns the order ids, checked 202."""
        product = self.create_product("Lamp Ranarp %d" % user, CLIENTS * ROUNDS, 10)
        body = json.dumps({"productId": product, "qty": 1, "userId": user})
        answers = Clients(self.stack.http_port).run(
            [[("POST", "/orders", body)] * ROUNDS for _ in range(CLIENTS)])
        self.assertEqual(len(answers), CLIENTS * ROUNDS)
        self.assertEqual(collections.Counter(a[0] for a in answers.values()),
                         {202: CLIENTS * ROUNDS},
                         [a for a in answers.values() if a[0] != 202][:5])
        ids = [a[2]["id"] for a in answers.values()]
        self.assertEqual(len(set(ids)), CLIENTS * ROUNDS, "two requests got the same order")
        for _, location, order in answers.values():
            self.assertEqual(location, "/orders/%d" % order["id"])
            self.assertEqual(order["status"], "PLACED")
        orders = self.stack.wait_for(
            lambda: self.stack.get("/orders?userId=%d" % user),
            timeout=WAIT_S, interval=0.2,
            until=lambda orders: [o["status"] for o in orders] == ["PAID"] * len(ids),
            what="every order PAID")
        self.assertEqual({o["id"] for o in orders}, set(ids))
        self.assertEqual({o["productId"] for o in orders}, {product})
        return ids

    def check_wire(self, messages):
        """Batched order.place requests on the bus are arrays of CloudEvents labelled as a
        batch, and each is answered by one array with an element per request, in order
        (docs/PROTOCOL.md, "Batches"). Returns how many batches there were."""
        requests = [m for m in messages if m["topic"] == PLACE_TOPIC]
        replies = {m["properties"].get("correlation-data"): m for m in messages
                   if m["topic"].startswith("hausbus/v1/reply/")}
        self.assertTrue(requests)
        batches = 0
        for request in requests:
            content_type = request["properties"].get("content-type", "")
            events = json.loads(request["payload"])
            reply = json.loads(replies[request["properties"]["correlation-data"]]["payload"])
            if not content_type.startswith(BATCH_TYPE):
                self.assertTrue(content_type.startswith("application/cloudevents+json"))
                self.assertEqual((events["type"], set(reply)),
                                 ("order.place", {"code", "body", "location"}))
                continue
            batches += 1
            self.assertTrue(2 <= len(events) <= 64, len(events))
            self.assertEqual({e["type"] for e in events}, {"order.place"})
            self.assertEqual({e["specversion"] for e in events}, {"1.0"})
            self.assertEqual(len({e["id"] for e in events}), len(events))
            self.assertEqual([r["id"] for r in reply], [e["id"] for e in events])
            self.assertEqual({r["code"] for r in reply}, {202})
        return batches

    def place_watched(self, user):
        """place_concurrently, watching the bus: returns the order ids and how many
        batched order.place messages went (check_wire)."""
        topics = [PLACE_TOPIC, "hausbus/v1/reply/#"]
        with Subscriber(self.stack.mqtt_port, topics, raw=True) as sub:  # batches as they came
            ids = self.place_concurrently(user)
            sub.wait(lambda ms: answered(ms) >= {m["properties"].get("correlation-data")
                                                  for m in ms if m["topic"] == PLACE_TOPIC})
            return ids, self.check_wire(sub.messages())

    def read_concurrently(self, ids):
        """Every client reads another order at once, and one reads an order that is not
        there: each gets exactly the order it asked for (or its 404)."""
        missing = max(ids) + 1000
        asked = [ids[n % len(ids)] for n in range(CLIENTS - 1)] + [missing]
        answers = Clients(self.stack.http_port).run(
            [[("GET", "/orders/%d" % order, None)] for order in asked])
        for (n, _), (status, _, body) in answers.items():
            if asked[n] == missing:
                self.assertEqual(status, 404, body)
            else:
                self.assertEqual(status, 200, body)
                self.assertEqual(body["id"], asked[n])


class CoalescingTest(CoalesceCase):
    """HAUSBUS_BUS_BATCH's default (64): requests that arrive together share messages."""

    # Pinned: the suite's sanitizer run sets HAUSBUS_BUS_BATCH=1 for everything else.
    stack_env = {"HAUSBUS_BUS_BATCH": "64"}

    def test_concurrent_orders_share_batches_and_each_gets_its_own_answer(self):
        batches, items = self.batch_counters()
        ids, on_wire = self.place_watched(USER)
        self.assertGreaterEqual(on_wire, 1, "no order.place request went in a batch")
        self.read_concurrently(ids)
        after_batches, after_items = self.batch_counters()
        self.assertGreaterEqual(after_batches - batches, 1, "no request went in a batch")
        # Every batch holds at least two requests, at most 64.
        self.assertGreaterEqual(after_items - items, 2 * (after_batches - batches))
        self.assertLessEqual(after_items - items, 64 * (after_batches - batches))

    def test_a_lone_request_goes_alone(self):
        product = self.create_product("Chair Adde", 5, 10)
        batches, _ = self.batch_counters()
        for _ in range(3):
            self.place(product, 1, USER + 1)
        self.assertEqual(self.batch_counters()[0], batches)


class AloneTest(CoalesceCase):
    """HAUSBUS_BUS_BATCH=1: every request goes alone, as before batches."""

    stack_env = {"HAUSBUS_BUS_BATCH": "1"}

    def test_with_bus_batch_1_nothing_is_batched(self):
        ids, on_wire = self.place_watched(USER + 2)
        self.assertEqual(on_wire, 0)
        self.read_concurrently(ids)
        self.assertEqual(self.batch_counters(), (0, 0))


if __name__ == "__main__":
    unittest.main()
