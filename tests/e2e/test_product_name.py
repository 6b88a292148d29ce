# End-to-end: the product component names the product; the productName a client sends
# with an order is ignored everywhere (order, events, delivery, notification, mypage).
import json
import unittest

from hausbus_harness import StackTestCase

USER = 3101
LIE = "Sofa"  # what the client calls every product it orders


def bus_events(messages):
    """The CloudEvents among collected MQTT messages, as (topic, event) pairs."""
    events = []
    for m in messages:
        try:
            event = json.loads(m["payload"])
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("data"), dict):
            events.append((m["topic"], event))
    return events


class ProductNameTest(StackTestCase):

    def names_seen(self, seen, order_id):
        """Reads GET /orders/{id} and the mypage row once; adds their productName to seen."""
        seen.add(self.stack.get("/orders/%d" % order_id)["productName"])
        row = self.mypage_row(USER, order_id)
        if row is not None:
            seen.add(row["productName"])

    def watching(self, seen, order_id, fn):
        """fn for wait_for, noting on every poll the names the order and mypage show."""
        def poll():
            self.names_seen(seen, order_id)
            return fn()
        return poll

    def test_order_for_a_tv_called_a_sofa_is_a_tv_everywhere(self):
        product = self.create_product("TV", 10, 1200)
        seen = set()  # every productName GET /orders/{id} and mypage showed on the way
        with self.stack.subscribe("hausbus/v1/#") as bus:
            order_id = self.place(product, 2, USER, LIE)
            # Before product answered the order is unnamed, never named by the client.
            self.names_seen(seen, order_id)
            self.stack.wait_for(
                self.watching(seen, order_id, lambda: self.stack.get("/orders/%d" % order_id)),
                until=lambda o: o["status"] == "PAID", what="order PAID")
            delivery = self.wait_delivery(order_id, "RECEIVED")
            self.assertEqual(delivery["productName"], "TV")
            self.stack.post("/deliveries/%d/confirm" % delivery["id"], expect=200)
            self.stack.post("/deliveries/%d/start" % delivery["id"], expect=200)
            notes = self.stack.wait_for(
                self.watching(seen, order_id, lambda: self.notifications(USER, order_id)),
                until=lambda n: len(n) == 1, what="one notification")
            self.wait_mypage(USER, order_id, productName="TV", orderStatus="SHIPPING",
                             deliveryStatus="SHIPPING", notified=True)
            self.names_seen(seen, order_id)
            self.settle()  # everything the saga published so far has reached the bus tap
            messages = bus.messages()

        order = self.stack.get("/orders/%d" % order_id)
        self.assertEqual((order["productId"], order["productName"], order["amount"]),
                         (product, "TV", 2400))
        self.assertEqual([d["productName"] for d in self.deliveries(order_id)], ["TV"])
        self.assertEqual([p["productName"] for p in self.payments(order_id)], ["TV"])
        self.assertIn("TV x2", notes[0]["text"])
        self.assertNotIn(LIE, notes[0]["text"])
        self.assertEqual(self.mypage_row(USER, order_id)["productName"], "TV")
        self.assertLessEqual(seen, {None, "TV"})

        # The client's name is nowhere on the bus, not even in the gateway's command.
        self.assertEqual([m for m in messages if LIE in m["payload"]], [])
        named = {}
        for _, event in bus_events(messages):
            data = event["data"]
            if data.get("orderId") == order_id and "productName" in data:
                named.setdefault(event["type"], set()).add(data["productName"])
        for kind in ("StockReserved", "OrderStockReserved", "PaymentApproved", "OrderPaid",
                     "DeliveryCreated", "OrderPreparing", "DeliveryStarted", "OrderShipping"):
            self.assertEqual(named.get(kind), {"TV"}, (kind, named))
        self.assertEqual(named.get("OrderPlaced"), {None}, named)

    def test_rejected_orders_are_named_by_the_product_or_not_at_all(self):
        lamp = self.create_product("Lamp", 1, 300)
        out_of_stock = self.place(lamp, 5, USER, LIE)
        unknown = self.place(987654, 1, USER, LIE)
        self.assertEqual(self.wait_order(out_of_stock, "REJECTED")["productName"], "Lamp")
        self.assertIsNone(self.wait_order(unknown, "REJECTED")["productName"])
        self.wait_mypage(USER, out_of_stock, productName="Lamp", orderStatus="REJECTED")
        self.wait_mypage(USER, unknown, productName=None, orderStatus="REJECTED")

    def test_order_cancelled_before_reservation_is_named_by_the_product(self):
        chair = self.create_product("Chair", 10, 900)
        order_id = self.place(chair, 1, USER, LIE)
        self.stack.post("/orders/%d/cancel" % order_id, expect=202)
        order = self.wait_order(order_id, "CANCELLED")
        self.assertEqual(order["productName"], "Chair")
        self.wait_mypage(USER, order_id, productName="Chair", orderStatus="CANCELLED")

    def test_a_bad_product_name_is_still_refused(self):
        for bad in ("", "x" * 101, 7):
            status, _, body = self.stack.request(
                "POST", "/orders", {"productId": 1, "qty": 1, "userId": USER, "productName": bad})
            self.assertEqual(status, 400, body)
            self.assertIn("productName", body["error"])


if __name__ == "__main__":
    unittest.main()
