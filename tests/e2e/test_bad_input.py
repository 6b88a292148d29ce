# Bad HTTP requests and malformed bus messages are refused cleanly and change nothing.
import json
import os
import signal
import time
import unittest
import uuid

from hausbus_harness import StackTestCase

USER = 3001
REQUEST_TIMEOUT_MS = 1500

ORDER = {"productId": 1, "qty": 1, "userId": USER}
PRODUCT = {"productName": "Table Lack", "stock": 5, "price": 100}


def without(d, key):
    return {k: v for k, v in d.items() if k != key}


def cloud_event(type_, data):
    return json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/hausbus/test",
                       "type": type_, "time": "2026-11-25T09:00:00.000Z", "subject": "1",
                       "datacontenttype": "application/json", "data": data})


def padded(body, size):
    """body as JSON, padded with spaces after the opening brace to size bytes."""
    text = json.dumps(body)
    return "{" + " " * (size - len(text)) + text[1:]


# (method, path, JSON body or None, raw body or None, expected status)
BAD_REQUESTS = [
    # malformed JSON
    ("POST", "/orders", None, "{", 400),
    ("POST", "/orders", None, '{"productId": 1,', 400),
    ("POST", "/orders", None, "{'productId': 1}", 400),
    ("POST", "/orders", None, "", 400),
    ("POST", "/products", None, "not json", 400),
    # body not an object
    ("POST", "/orders", None, "[]", 400),
    ("POST", "/orders", None, '[{"productId": 1, "qty": 1, "userId": 1}]', 400),
    ("POST", "/orders", None, "42", 400),
    ("POST", "/orders", None, '"order"', 400),
    ("POST", "/orders", None, "null", 400),
    ("POST", "/products", None, "[]", 400),
    # missing fields
    ("POST", "/orders", {}, None, 400),
    ("POST", "/orders", without(ORDER, "productId"), None, 400),
    ("POST", "/orders", without(ORDER, "qty"), None, 400),
    ("POST", "/orders", without(ORDER, "userId"), None, 400),
    ("POST", "/products", {}, None, 400),
    ("POST", "/products", without(PRODUCT, "productName"), None, 400),
    ("POST", "/products", without(PRODUCT, "stock"), None, 400),
    # wrong types
    ("POST", "/orders", dict(ORDER, qty="1.5"), None, 400),
    ("POST", "/orders", dict(ORDER, qty="1e3"), None, 400),
    ("POST", "/orders", dict(ORDER, qty=" 1"), None, 400),
    ("POST", "/orders", dict(ORDER, qty=1.5), None, 400),
    ("POST", "/orders", dict(ORDER, qty=None), None, 400),
    ("POST", "/orders", dict(ORDER, qty=[1]), None, 400),
    ("POST", "/orders", dict(ORDER, productId="0x10"), None, 400),
    ("POST", "/orders", dict(ORDER, userId=True), None, 400),
    ("POST", "/orders", dict(ORDER, productName=5), None, 400),
    ("POST", "/products", dict(PRODUCT, productName=7), None, 400),
    ("POST", "/products", dict(PRODUCT, stock="five"), None, 400),
    ("POST", "/products", dict(PRODUCT, stock="1000000001"), None, 400),
    ("POST", "/products", dict(PRODUCT, price="1.5"), None, 400),
    ("POST", "/products", dict(PRODUCT, price=1.5), None, 400),
    # out of range
    ("POST", "/orders", dict(ORDER, qty=0), None, 400),
    ("POST", "/orders", dict(ORDER, qty=-1), None, 400),
    ("POST", "/orders", dict(ORDER, qty=1000001), None, 400),
    ("POST", "/orders", dict(ORDER, productId=0), None, 400),
    ("POST", "/orders", dict(ORDER, userId=-5), None, 400),
    ("POST", "/orders", dict(ORDER, productName=""), None, 400),
    ("POST", "/orders", dict(ORDER, productName="x" * 101), None, 400),
    ("POST", "/products", dict(PRODUCT, productName=""), None, 400),
    ("POST", "/products", dict(PRODUCT, productName="x" * 101), None, 400),
    ("POST", "/products", dict(PRODUCT, stock=-1), None, 400),
    ("POST", "/products", dict(PRODUCT, stock=10 ** 9 + 1), None, 400),
    ("POST", "/products", dict(PRODUCT, price=-1), None, 400),
    ("POST", "/products", dict(PRODUCT, price=10 ** 12 + 1), None, 400),
    # over 64 KiB (otherwise valid)
    ("POST", "/orders", None, padded(ORDER, 64 * 1024 + 1), 413),
    ("POST", "/products", None, padded(PRODUCT, 200 * 1024), 413),
    # unknown ids
    ("GET", "/orders/999999", None, None, 404),
    ("POST", "/orders/999999/cancel", None, None, 404),
    ("GET", "/products/999999", None, None, 404),
    ("GET", "/deliveries/999999", None, None, 404),
    ("POST", "/deliveries/999999/confirm", None, None, 404),
    ("POST", "/deliveries/999999/start", None, None, 404),
    ("POST", "/deliveries/999999/complete", None, None, 404),
    # unknown routes
    ("GET", "/", None, None, 404),
    ("GET", "/nope", None, None, 404),
    ("GET", "/orders/1/nope", None, None, 404),
    ("POST", "/orders/1/refund", None, None, 404),
    ("GET", "/v1/orders", None, None, 404),
    # a path id that is not a positive integer is an unknown route
    ("GET", "/orders/abc", None, None, 404),
    ("GET", "/orders/0", None, None, 404),
    ("GET", "/orders/-1", None, None, 404),
    ("GET", "/orders/1.5", None, None, 404),
    ("GET", "/products/abc", None, None, 404),
    ("POST", "/orders/abc/cancel", None, None, 404),
    ("GET", "/deliveries/x", None, None, 404),
    ("POST", "/deliveries/x/start", None, None, 404),
    ("GET", "/mypage/abc", None, None, 404),
    ("GET", "/mypage/0", None, None, 404),
    # wrong method
    ("DELETE", "/orders", None, None, 405),
    ("PUT", "/orders/1", None, None, 405),
    ("GET", "/orders/1/cancel", None, None, 405),
    ("DELETE", "/products/1", None, None, 405),
    ("PUT", "/products", None, None, 405),
    ("GET", "/deliveries/1/confirm", None, None, 405),
    ("POST", "/deliveries", None, None, 405),
    ("POST", "/payments", None, None, 405),
    ("POST", "/mypage/1", None, None, 405),
    ("DELETE", "/notifications", None, None, 405),
    ("POST", "/healthz", None, None, 405),
    # query parameters given but not positive integers
    ("GET", "/orders?userId=abc", None, None, 400),
    ("GET", "/orders?userId=0", None, None, 400),
    ("GET", "/orders?userId=-1", None, None, 400),
    ("GET", "/orders?userId=1.5", None, None, 400),
    ("GET", "/orders?userId=", None, None, 400),
    ("GET", "/payments?orderId=x", None, None, 400),
    ("GET", "/deliveries?orderId=0", None, None, 400),
    ("GET", "/notifications?userId=-2", None, None, 400),
]


class BadInputTest(StackTestCase):
    stack_env = {"HAUSBUS_REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_MS)}

    def snapshot(self):
        return {path: self.stack.get(path) for path in
                ("/products", "/orders", "/deliveries", "/payments", "/notifications",
                 "/mypage/%d" % USER)}

    def assert_error(self, status, headers, body, expected, what):
        self.assertEqual(status, expected, "%s answered %r" % (what, body))
        self.assertIsInstance(body, dict, what)
        self.assertIsInstance(body.get("error"), str, what)
        self.assertTrue(body["error"], what)
        if expected == 405:
            self.assertIn("allow", headers, "%s: 405 without Allow" % what)

    def test_bad_http_requests_are_refused_and_change_nothing(self):
        product = self.create_product("Table Lack", 5, 100)
        self.wait_order(self.place(product, 1, USER), "PAID")
        self.settle()
        before = self.snapshot()
        for method, path, body, raw, expected in BAD_REQUESTS:
            what = "%s %s %s" % (method, path, (json.dumps(body) if body is not None
                                                else repr((raw or "")[:40])))
            with self.subTest(what):
                status, headers, answer = self.stack.request(method, path, body=body, raw=raw)
                self.assert_error(status, headers, answer, expected, what)
        self.assertEqual(self.snapshot(), before)

    def dead_letters_then_still_works(self, topic, component, payloads):
        with self.stack.subscribe("hausbus/v1/dlq/+") as dlq:
            for payload in payloads:
                self.stack.mqtt_pub(topic, payload)
            for payload in payloads:
                def landed(messages, payload=payload):
                    for m in messages:
                        if m["topic"] != "hausbus/v1/dlq/" + component:
                            continue
                        try:
                            letter = json.loads(m["payload"])
                        except ValueError:
                            continue
                        if isinstance(letter, dict) and letter.get("payload") == payload:
                            return letter
                    return None
                letter = dlq.wait(landed)
                self.assertEqual(letter["topic"], topic)
                self.assertIsInstance(letter.get("reason"), str)
                self.assertTrue(letter["reason"])
        self.assertEqual(self.stack.exit_codes(), {})
        self.stack.wait_healthy()
        product = self.create_product("Mirror Hovet", 5, 100)
        self.wait_order(self.place(product, 1, USER + 1), "PAID")

    def test_malformed_event_is_dead_lettered(self):
        self.dead_letters_then_still_works(
            "hausbus/v1/evt/order/OrderPlaced", "product",
            ["not json at all", '{"hello": "world"}', cloud_event("OrderPlaced", {})])

    def test_malformed_command_is_dead_lettered(self):
        self.dead_letters_then_still_works(
            "hausbus/v1/cmd/order/place", "order",
            ["{{{", '{"productId": 1, "qty": 1, "userId": 1}', cloud_event("order.place", {})])

    def test_silent_component_gives_504_in_time(self):
        # Stopped, not killed: its retained status stays "online" (a stopped component
        # is answered 503 at once, test_availability), so only the timeout can tell.
        os.kill(self.stack.pid("view"), signal.SIGSTOP)
        try:
            started = time.monotonic()
            status, headers, body = self.stack.request("GET", "/mypage/1")
            elapsed = time.monotonic() - started
            self.assert_error(status, headers, body, 504, "GET /mypage/1 without view")
            self.assertLess(elapsed, REQUEST_TIMEOUT_MS / 1000.0 + 1.0)
        finally:
            os.kill(self.stack.pid("view"), signal.SIGCONT)

if __name__ == "__main__":
    unittest.main()
