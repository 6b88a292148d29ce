# The live board's HTTP side against a running stack: the page, the event stream (snapshot,
# live orders, statuses, edges and rates from metrics), the client cap, shutdown, tokens.
import os
import signal
import socket
import time
import unittest

from board_events import (BoardStream, component_status, edge, iso_now, order_status,
                          publish_metrics)
from hausbus_harness import COMPONENTS, PROCESSES, StackTestCase, mint_token

SECRET = "e2e-board-secret-0123456789abcdef-01234567"
USER = 8101
WAIT_S = 30.0 if os.environ.get("HAUSBUS_VALGRIND") else 10.0


def mint(role, uid=None):
    return mint_token(SECRET, role, uid, ttl=600)


class BoardTest(StackTestCase):
    # Real metrics (once the components publish them) are off: these tests feed their
    # own contract-shaped snapshots and must not see others in between.
    stack_env = {"HAUSBUS_BOARD_CLIENTS": "2", "HAUSBUS_METRICS_INTERVAL_MS": "0"}
    # With HAUSBUS_ALLINONE=1 the gateway runs inside hausbus, but notification apart:
    # stopping it must leave the gateway (and the stream) running.
    if os.environ.get("HAUSBUS_ALLINONE") == "1":
        stack_allinone = tuple(n for n in PROCESSES if n != "notification")

    def setUp(self):
        # Every test starts with all stream slots free: a closed stream holds its slot
        # until the gateway's next writes fail.
        self.stack.kill("gateway", signal.SIGTERM)
        self.stack.start("gateway")

    def stream(self):
        board = BoardStream(self.stack.http_port, timeout=WAIT_S)
        self.addCleanup(board.close)
        self.assertEqual(board.status, 200)
        self.assertEqual(board.headers.get("content-type"), "text/event-stream")
        return board

    def test_page_is_self_contained_html(self):
        status, headers, _ = self.stack.request("GET", "/board")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "text/html; charset=utf-8")
        self.assertIn("default-src 'none'", headers.get("content-security-policy", ""))
        page = self.raw_get("/board")
        self.assertIn(b"<title>hausbus live board</title>", page)
        self.assertIn(b"EventSource", page)
        for external in (b"src=\"http", b"href=\"http", b"url(http", b"@import"):
            self.assertNotIn(external, page)

    def test_snapshot_then_orders_move_live(self):
        product = self.create_product("board sofa", 100, 700)
        with self.stream() as board:
            name, snapshot = board.next_event()
            self.assertEqual(name, "snapshot")
            self.assertEqual(set(snapshot), {"components", "orders", "edges"})
            for c in COMPONENTS + ("gateway",):
                self.assertEqual(component_status(snapshot, c), "online", c)
            order_id = self.place(product, 1, USER)
            board.wait(lambda s: order_status(s, order_id) == "PAID", WAIT_S,
                       "order %d PAID on the board" % order_id)
            row = [o for o in board.state["orders"] if o["orderId"] == order_id][0]
            self.assertEqual(row["event"], "OrderPaid")
            self.assertIsNone(row["reason"])
            self.assertTrue(row["time"].endswith("Z"))
            rejected = self.place(product, 1000, USER)
            board.wait(lambda s: order_status(s, rejected) == "REJECTED", WAIT_S)
            row = [o for o in board.state["orders"] if o["orderId"] == rejected][0]
            self.assertTrue(row["reason"])
            # Updates carry only what changed: order events never resend the components.
            updates = [d for n, d in board.events if n == "update"]
            self.assertTrue(updates)
            self.assertTrue(all("components" not in d for d in updates if "orders" in d))

    def test_a_page_opened_later_starts_with_the_orders_before_it(self):
        # With no stream open the gateway keeps order events unread; the first stream
        # reads them, so its snapshot already shows the order placed before it.
        product = self.create_product("board stool", 100, 300)
        order_id = self.place(product, 1, USER)
        self.wait_order(order_id, "PAID")
        with self.stream() as board:
            name, snapshot = board.next_event()
            self.assertEqual(name, "snapshot")
            self.assertIsNotNone(order_status(snapshot, order_id))
            board.wait(lambda s: order_status(s, order_id) == "PAID", WAIT_S,
                       "order %d PAID on the board" % order_id)

    def test_edges_and_rates_come_from_metrics(self):
        started = iso_now(-60)
        with self.stream() as board:
            board.next_event()
            publish_metrics(self.stack.mqtt_port, "product", started, iso_now(-2),
                            {"hausbus/v1/evt/order/OrderPlaced": 10,
                             "hausbus/v1/cmd/product/list": 3})
            publish_metrics(self.stack.mqtt_port, "product", started, iso_now(),
                            {"hausbus/v1/evt/order/OrderPlaced": 30,
                             "hausbus/v1/cmd/product/list": 3})
            state = board.wait(lambda s: (edge(s, "order", "product") or {}).get("total") == 30,
                               WAIT_S, "the order -> product edge")
            e = edge(state, "order", "product")
            self.assertGreater(e["rate"], 5.0)   # 20 in about 2 s
            self.assertLess(e["rate"], 15.0)
            self.assertEqual(edge(state, "gateway", "product")["rate"], 0)

    def test_a_stopped_component_goes_offline_and_back(self):
        with self.stream() as board:
            board.next_event()
            self.stack.kill("notification", signal.SIGTERM)
            board.wait(lambda s: component_status(s, "notification") == "offline", WAIT_S)
            self.stack.start("notification")
            board.wait(lambda s: component_status(s, "notification") == "online", WAIT_S)

    def test_streams_beyond_the_cap_get_503(self):
        with self.stream() as first, self.stream() as second:
            first.next_event()
            second.next_event()
            third = BoardStream(self.stack.http_port, timeout=WAIT_S)
            self.addCleanup(third.close)
            self.assertEqual(third.status, 503)
            self.assertEqual(third.headers.get("content-type"), "application/json")
            self.assertIn(b"HAUSBUS_BOARD_CLIENTS", third.body())
        # A slot comes back when its page has gone: the gateway notices when its writes
        # fail, updates or heartbeats (every 5 s), so within about two heartbeats.
        self.stack.wait_for(self.stream_admitted, timeout=WAIT_S + 12.0, interval=0.5,
                            what="a free stream slot")

    def stream_admitted(self):
        self.stack.mqtt_pub("hausbus/v1/status/board-probe", "online")  # something to write
        board = BoardStream(self.stack.http_port, timeout=WAIT_S)
        try:
            return board.status == 200
        finally:
            board.close()

    def test_gateway_stop_ends_the_stream_at_once(self):
        board = self.stream()
        board.next_event()
        started = time.monotonic()
        self.stack.kill("gateway", signal.SIGTERM)
        self.assertEqual(self.stack.procs[self.stack.process_of("gateway")].returncode, 0)
        names = []
        try:
            while True:
                event = board.next_event()
                if event is None:
                    break
                names.append(event[0])
        except (socket.timeout, ConnectionError):
            self.fail("the stream did not end with the gateway")
        self.assertIn("bye", names)
        self.assertLess(time.monotonic() - started, 3.0 * (3 if os.environ.get("HAUSBUS_VALGRIND") else 1))
        self.stack.start("gateway")

    def raw_get(self, path):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.http_port, timeout=WAIT_S)
        try:
            conn.request("GET", path)
            return conn.getresponse().read()
        finally:
            conn.close()


class BoardOffTest(StackTestCase):
    """HAUSBUS_BOARD_CLIENTS=0: no streams (and no subscriptions for them)."""
    stack_env = {"HAUSBUS_BOARD_CLIENTS": "0"}

    def test_streams_are_refused_and_the_rest_works(self):
        board = BoardStream(self.stack.http_port)
        self.addCleanup(board.close)
        self.assertEqual(board.status, 503)
        self.assertIn(b"board is off", board.body())
        product = self.create_product("board off", 5, 5)
        self.wait_order(self.place(product, 1, USER), "PAID")


class BoardWithTokensTest(StackTestCase):
    """With tokens on, the board is an admin's; a browser passes the token in the query."""
    stack_env = {"HAUSBUS_AUTH": "on", "HAUSBUS_AUTH_SECRET": SECRET}

    def test_board_needs_an_admin_token_in_the_header_or_the_query(self):
        admin = mint("admin")
        for path in ("/board", "/board/events"):
            with self.subTest(path=path):
                refused = BoardStream(self.stack.http_port, path)
                self.assertEqual(refused.status, 401)
                refused.close()
                for role in ("brand", "customer"):
                    token = mint(role, uid=5 if role == "customer" else None)
                    other = BoardStream(self.stack.http_port, path + "?token=" + token)
                    self.assertEqual(other.status, 403, role)
                    other.close()
                bad = BoardStream(self.stack.http_port, path + "?token=" + admin[:-2] + "xx")
                self.assertEqual(bad.status, 401)
                bad.close()
                for headers, query in (({"Authorization": "Bearer " + admin}, ""),
                                       ({}, "?token=" + admin)):
                    ok = BoardStream(self.stack.http_port, path + query, headers=headers)
                    self.assertEqual(ok.status, 200)
                    if path == "/board/events":
                        self.assertEqual(ok.next_event()[0], "snapshot")
                    ok.close()

    def test_query_token_works_only_for_the_board(self):
        admin = mint("admin")
        status, _, _ = self.stack.request("GET", "/products?token=" + admin)
        self.assertEqual(status, 401)

    def test_the_token_stays_out_of_the_log(self):
        admin = mint("admin")
        ok = BoardStream(self.stack.http_port, "/board?token=" + admin)
        ok.close()
        time.sleep(0.2)
        with open(os.path.join(self.stack.tmp, self.stack.process_of("gateway") + ".log"), errors="replace") as f:
            self.assertNotIn(admin.split(".")[2], f.read())


if __name__ == "__main__":
    unittest.main()
