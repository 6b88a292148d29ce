# Components started while the broker is down retry with backoff and catch up once it is up.
import os
import re
import signal
import unittest

from hausbus_harness import StackTestCase

USER = 5201
# bus.c doubles the wait after each failed attempt, from 100 ms up to 5 s.
RETRY_LINE = re.compile(r'"cannot reach broker [^"]*retrying in (\d+) ms"')


class BrokerDownAtStartTest(StackTestCase):
    # Re-drive far beyond the test: order A can then only be paid from the messages that
    # waited in the broker's persistent sessions, not because order asked again.
    stack_env = {"HAUSBUS_REDRIVE_MS": "60000"}

    def retry_delays(self, name):
        with open(os.path.join(self.stack.tmp, name + ".log"), "rb") as f:
            text = f.read().decode(errors="replace")
        return [int(ms) for ms in RETRY_LINE.findall(text)]

    def test_components_started_without_broker_retry_then_catch_up(self):
        product = self.create_product("Shelf Kallax", 10, 700)
        # Order A waits for payment: its StockReserved is queued in payment's session.
        self.stack.kill("payment", signal.SIGKILL)
        order_a = self.place(product, 2, USER)
        self.wait_order(order_a, "STOCK_RESERVED")

        self.stack.kill("order", signal.SIGTERM)
        self.stack.stop_broker(signal.SIGTERM)  # graceful: the queued message is saved
        self.stack.start("order", wait=False)
        self.stack.start("payment", wait=False)
        # 100 + 200 + 400 + 800 ms: four failed attempts each within about 1.5 s.
        for name in ("order", "payment"):
            delays = self.stack.wait_for(lambda: self.retry_delays(name), timeout=10,
                                         until=lambda d: len(d) >= 4,
                                         what="%s's log to show four failed attempts" % name)
            self.assertEqual(delays[:4], [100, 200, 400, 800], delays)
        self.assertEqual(self.stack.exit_codes().get("order"), None, "order gave up")
        self.assertEqual(self.stack.exit_codes().get("payment"), None, "payment gave up")

        self.stack.start_broker()
        self.stack.wait_healthy(timeout=15)  # the next attempt is at most 5 s away
        print("retries before the broker came up: order %r ms, payment %r ms"
              % (self.retry_delays("order"), self.retry_delays("payment")))
        self.assertEqual(self.wait_order(order_a, "PAID", timeout=15)["amount"], 1400)
        order_b = self.place(product, 3, USER)
        self.assertEqual(self.wait_order(order_b, "PAID", timeout=15)["amount"], 2100)
        self.wait_delivery(order_a, "RECEIVED")
        self.wait_delivery(order_b, "RECEIVED")
        self.assertEqual(self.stock(product), 5)
        self.assertEqual([p["status"] for p in self.payments(order_a)], ["APPROVED"])


if __name__ == "__main__":
    unittest.main()
