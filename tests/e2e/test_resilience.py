# A component that crashes catches up from its broker session; redelivered events apply once.
import json
import signal
import unittest

from hausbus_harness import StackTestCase

USER = 4001


class ResilienceTest(StackTestCase):
    # Re-drive far beyond the test's duration: PAID can then only come from the event that
    # waited in the broker, not from the order component asking again.
    stack_env = {"HAUSBUS_REDRIVE_MS": "60000"}

    def test_event_waits_in_broker_while_payment_is_down(self):
        product = self.create_product("Cabinet Ivar", 10, 300)
        self.stack.kill("payment", signal.SIGKILL)
        try:
            order_id = self.place(product, 2, USER)
            self.wait_order(order_id, "STOCK_RESERVED")
        finally:
            self.stack.start("payment")
        order = self.wait_order(order_id, "PAID")
        self.assertEqual(order["amount"], 600)
        payments = self.payments(order_id)
        self.assertEqual([(p["status"], p["amount"]) for p in payments], [("APPROVED", 600)])
        self.assertEqual(self.stock(product), 8)

    def test_duplicate_events_are_applied_once(self):
        product = self.create_product("Couch Soderhamn", 10, 800)
        with self.stack.subscribe("hausbus/v1/evt/#", qos=1) as events:
            order_id = self.place(product, 3, USER + 1)
            self.wait_order(order_id, "PAID")
            self.wait_delivery(order_id, "RECEIVED")
            self.wait_mypage(USER + 1, order_id, orderStatus="PAID", deliveryStatus="RECEIVED")
        ours = [m for m in events.messages() if _subject(m["payload"]) == str(order_id)]
        placed = [m for m in ours if m["topic"] == "hausbus/v1/evt/order/OrderPlaced"]
        self.assertEqual(len(placed), 1, [m["topic"] for m in ours])

        # The same OrderPlaced (same CloudEvent id) a second time: no second reservation.
        self.stack.mqtt_pub(placed[0]["topic"], placed[0]["payload"])
        self.settle()
        self.assertEqual(self.stock(product), 7)
        # Then every event of this saga once more.
        for m in ours:
            self.stack.mqtt_pub(m["topic"], m["payload"])
        self.settle()
        self.assertEqual(self.stock(product), 7)
        self.assertEqual(self.stack.get("/orders/%d" % order_id)["status"], "PAID")
        self.assertEqual([p["status"] for p in self.payments(order_id)], ["APPROVED"])
        self.assertEqual([d["status"] for d in self.deliveries(order_id)], ["RECEIVED"])
        self.assertEqual(len([r for r in self.stack.get("/mypage/%d" % (USER + 1))]), 1)
        self.assertEqual(self.stack.exit_codes(), {})


def _subject(payload):
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    return event.get("subject") if isinstance(event, dict) else None


if __name__ == "__main__":
    unittest.main()
