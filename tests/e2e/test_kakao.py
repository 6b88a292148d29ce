# The KakaoTalk notifier against a local fake of the "send to me" API: request shape,
# retries with backoff, no retry on 4xx, timeouts, and at most once across a kill -9;
# in hausbus-notification and in the all-in-one hausbus alike.
import http.server
import json
import re
import signal
import threading
import time
import unittest
import urllib.parse

from hausbus_harness import StackTestCase, VALGRIND

TOKEN = "test-token-Kakao-0123456789"
API_PATH = "/v2/api/talk/memo/default/send"
ORDER_URL_BASE = "https://shop.example/orders"
TIMEOUT_MS = 3000 if VALGRIND else 1000  # memcheck slows curl down; loopback is fast
MAX_ATTEMPTS = 3
NOTIFICATION_TOPIC = "hausbus/v1/evt/notification/+"
WAIT_S = 40.0 if VALGRIND else 20.0
USER = 61001


class FakeKakao:
    """A threaded HTTP server on a free 127.0.0.1 port that records every request and
    answers from a per-order script: a list of (status, delay in s) consumed in order,
    then 200 without delay. The order comes from the template's link (<base>/<id>)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []   # dicts: method, path, headers, form, template, order_id, t
        self.responses = []  # (order_id, status) actually written back
        self.scripts = {}    # order_id -> [(status, delay_s)]
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode("utf-8")
                form = urllib.parse.parse_qs(raw, keep_blank_values=True, strict_parsing=True)
                template = json.loads(form["template_object"][0])
                match = re.search(r"/(\d+)$", template["link"]["web_url"])
                order_id = int(match.group(1)) if match else 0
                with fake.lock:
                    fake.requests.append({
                        "method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "form": form, "template": template, "order_id": order_id,
                        "t": time.monotonic()})
                    script = fake.scripts.get(order_id, [])
                    status, delay = script.pop(0) if script else (200, 0.0)
                time.sleep(delay)
                body = (b'{"result_code":0}' if status == 200 else
                        json.dumps({"msg": "this access token does not exist",
                                    "code": -401}).encode() if status == 401 else
                        b'{"msg":"internal error","code":-1}')
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    with fake.lock:
                        fake.responses.append((order_id, status))
                except OSError:
                    pass  # the client gave up (timeout) before the answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d%s" % (self.port, API_PATH)

    def script(self, order_id, answers):
        with self.lock:
            self.scripts[order_id] = list(answers)

    def requests_for(self, order_id):
        with self.lock:
            return [r for r in self.requests if r["order_id"] == order_id]

    def responses_for(self, order_id):
        with self.lock:
            return [status for oid, status in self.responses if oid == order_id]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class KakaoNotifierTest(StackTestCase):
    """hausbus-notification as a process of its own."""
    fake = None
    stack_allinone = False

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeKakao()
        cls.stack_env = {
            "HAUSBUS_KAKAO_URL": cls.fake.url,
            "HAUSBUS_KAKAO_TOKEN": TOKEN,
            "HAUSBUS_ORDER_URL_BASE": ORDER_URL_BASE + "/",
            "HAUSBUS_KAKAO_TIMEOUT_MS": str(TIMEOUT_MS),
            "HAUSBUS_KAKAO_CONNECT_TIMEOUT_MS": "500",
            "HAUSBUS_KAKAO_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "HAUSBUS_KAKAO_BACKOFF_MS": "200",
            "HAUSBUS_KAKAO_BACKOFF_MAX_MS": "400",
        }
        try:
            super().setUpClass()
        except BaseException:
            cls.fake.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.fake.close()

    # --- helpers ---------------------------------------------------------------------

    def confirmed(self, user, script=None):
        """An order of user up to a confirmed delivery, with script set for it at the
        fake. Returns (order id, delivery id)."""
        cls = type(self)
        if getattr(cls, "_product", None) is None:
            cls._product = self.create_product("Sofa Kivik", 10 ** 6, 1000)
        order_id = self.place(cls._product, 1, user)
        delivery = self.wait_delivery(order_id, "RECEIVED", timeout=WAIT_S)
        if script is not None:
            self.fake.script(order_id, script)
        self.stack.post("/deliveries/%d/confirm" % delivery["id"], expect=200)
        return order_id, delivery["id"]

    def ship(self, user, script=None):
        """confirmed(), then the delivery starts. Returns the order id."""
        order_id, delivery_id = self.confirmed(user, script)
        self.stack.post("/deliveries/%d/start" % delivery_id, expect=200)
        return order_id

    def wait_note(self, user, order_id, status, timeout=WAIT_S):
        notes = self.stack.wait_for(lambda: self.notifications(user, order_id), timeout,
                                    until=lambda n: len(n) == 1 and n[0]["status"] == status,
                                    what="one %s notification for order %d" % (status, order_id))
        return notes[0]

    def events_for(self, sub, order_id, event_type):
        out = []
        for m in sub.messages():
            if not m["topic"].endswith("/" + event_type):
                continue
            event = json.loads(m["payload"])
            if event["data"]["orderId"] == order_id:
                out.append(event)
        return out

    def assert_kakao_request(self, req, order_id):
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["path"], API_PATH)
        self.assertEqual(req["headers"].get("authorization"), "Bearer " + TOKEN)
        self.assertEqual(req["headers"].get("content-type"),
                         "application/x-www-form-urlencoded;charset=utf-8")
        self.assertEqual(list(req["form"]), ["template_object"])
        t = req["template"]
        self.assertEqual(t["object_type"], "text")
        self.assertIn("주문 #%d 배송이 시작되었습니다" % order_id, t["text"])
        url = "%s/%d" % (ORDER_URL_BASE, order_id)
        self.assertEqual(t["link"], {"web_url": url, "mobile_web_url": url})
        self.assertEqual(t["button_title"], "주문 보기")

    def assert_requests_stay(self, order_id, count, seconds=2.0):
        """Nothing more reaches the fake for order_id within seconds."""
        time.sleep(seconds)
        self.assertEqual(len(self.fake.requests_for(order_id)), count)

    # --- cases -----------------------------------------------------------------------

    def test_success_sends_one_kakaotalk_message(self):
        user = USER
        with self.stack.subscribe(NOTIFICATION_TOPIC, qos=1) as sub:
            order_id = self.ship(user)
            note = self.wait_note(user, order_id, "SENT")
            sub.wait(lambda m: self.events_for(sub, order_id, "CustomerNotified"), WAIT_S)
        self.assertEqual((note["attempts"], note["lastError"], note["channel"]),
                         (1, None, "kakaotalk"))
        self.assertEqual(note["text"], self.fake.requests_for(order_id)[0]["template"]["text"])
        self.assert_requests_stay(order_id, 1)
        self.assert_kakao_request(self.fake.requests_for(order_id)[0], order_id)
        self.assertEqual(self.fake.responses_for(order_id), [200])
        self.wait_mypage(user, order_id, notified=True, timeout=WAIT_S)

    def test_server_error_is_retried_then_sent_once(self):
        user = USER + 1
        order_id = self.ship(user, script=[(503, 0.0), (500, 0.0)])
        note = self.wait_note(user, order_id, "SENT")
        self.assertEqual((note["attempts"], note["lastError"]), (3, None))
        self.assert_requests_stay(order_id, 3)
        reqs = self.fake.requests_for(order_id)
        for req in reqs:
            self.assert_kakao_request(req, order_id)
        self.assertEqual(self.fake.responses_for(order_id), [503, 500, 200])
        # Backoff: 200 ms, then 400 ms at least between attempts (ticks are 1 s apart).
        self.assertGreaterEqual(reqs[1]["t"] - reqs[0]["t"], 0.2)
        self.assertGreaterEqual(reqs[2]["t"] - reqs[1]["t"], 0.4)

    def test_unauthorized_fails_at_once_with_the_reason(self):
        user = USER + 2
        with self.stack.subscribe(NOTIFICATION_TOPIC, qos=1) as sub:
            order_id = self.ship(user, script=[(401, 0.0)])
            note = self.wait_note(user, order_id, "FAILED")
            failed = sub.wait(lambda m: self.events_for(sub, order_id, "NotificationFailed"),
                              WAIT_S)
        self.assertEqual(note["attempts"], 1)
        self.assertIn("401", note["lastError"])
        self.assertIn("this access token does not exist", note["lastError"])
        self.assertEqual(failed[0]["data"]["status"], "FAILED")
        self.assertEqual(failed[0]["data"]["lastError"], note["lastError"])
        self.assert_requests_stay(order_id, 1)
        self.assertEqual(self.fake.responses_for(order_id), [401])
        self.assertEqual(self.events_for(sub, order_id, "CustomerNotified"), [])

    def test_timeouts_are_retried_until_the_last_attempt_then_failed(self):
        user = USER + 3
        slow = TIMEOUT_MS / 1000.0 + 1.0
        with self.stack.subscribe(NOTIFICATION_TOPIC, qos=1) as sub:
            order_id = self.ship(user, script=[(200, slow)] * MAX_ATTEMPTS)
            note = self.wait_note(user, order_id, "FAILED", timeout=WAIT_S + 3 * slow)
            sub.wait(lambda m: self.events_for(sub, order_id, "NotificationFailed"), WAIT_S)
        self.assertEqual(note["attempts"], MAX_ATTEMPTS)
        self.assertIn("Timeout", note["lastError"])
        self.assert_requests_stay(order_id, MAX_ATTEMPTS)
        self.assertEqual(self.fake.responses_for(order_id), [])  # none was answered in time

    def test_kill_during_the_request_never_sends_twice(self):
        user = USER + 4
        # A message sent before the crash is announced again on replay, not sent again.
        before = self.ship(user)
        self.wait_note(user, before, "SENT")
        hold = TIMEOUT_MS / 1000.0 * 0.8  # answered within the timeout, after the kill
        with self.stack.subscribe(NOTIFICATION_TOPIC, qos=1) as sub:
            order_id = self.ship(user, script=[(200, hold)])
            self.stack.wait_for(lambda: self.fake.requests_for(order_id), WAIT_S,
                                what="the request for order %d" % order_id)
            self.stack.kill("notification", signal.SIGKILL)
            # While it is down, another delivery starts: its event waits in the broker.
            # The all-in-one takes the gateway down with it: there it starts after.
            alone = self.stack.process_of("notification") != self.stack.process_of("gateway")
            later = self.ship(user) if alone else None
            self.stack.start("notification")
            later = later or self.ship(user)
            note = self.wait_note(user, order_id, "FAILED")
            sub.wait(lambda m: self.events_for(sub, order_id, "NotificationFailed"), WAIT_S)
        self.assertIn("outcome unknown", note["lastError"])
        self.assertEqual(note["attempts"], 1)
        self.wait_note(user, later, "SENT")
        self.assert_requests_stay(order_id, 1)
        self.assertEqual(len(self.fake.requests_for(before)), 1)
        self.assertEqual(len(self.fake.requests_for(later)), 1)
        self.assertEqual(self.stack.exit_codes(), {})  # the restarted one runs

    def test_clean_stop_finishes_the_attempt_and_keeps_the_queue(self):
        user = USER + 5
        hold = TIMEOUT_MS / 1000.0 * 0.7
        first = self.confirmed(user, script=[(200, hold)])
        rest = [self.confirmed(user) for _ in range(2)]
        for _, delivery_id in [first] + rest:  # back to back: claimed together, mostly
            self.stack.post("/deliveries/%d/start" % delivery_id, expect=200)
        self.stack.wait_for(lambda: self.fake.requests_for(first[0]), WAIT_S,
                            what="the request for order %d" % first[0])
        self.stack.kill("notification", signal.SIGTERM)
        self.assertEqual(self.stack.exit_codes().get(self.stack.process_of("notification")), 0)
        # The attempt under way was answered and recorded before the exit.
        self.assertEqual(self.fake.responses_for(first[0]), [200])
        self.stack.start("notification")
        for order_id, _ in [first] + rest:
            note = self.wait_note(user, order_id, "SENT")
            # A claimed message that was never attempted went back without using an attempt.
            self.assertEqual((note["attempts"], note["lastError"]), (1, None))
        self.assert_requests_stay(first[0], 1)
        for order_id, _ in [first] + rest:
            self.assertEqual(len(self.fake.requests_for(order_id)), 1)


class KakaoNotifierAllInOneTest(KakaoNotifierTest):
    """The same cases with notification a thread of the all-in-one hausbus: killing or
    stopping "notification" acts on the whole hausbus process."""
    stack_allinone = True

if __name__ == "__main__":
    unittest.main()
