# Hostile events straight onto the bus: dead-lettered or ignored, state unchanged, components up.
import json
import uuid

from hausbus_harness import StackTestCase

USER = 5001


def cloudevent(source, type_, subject, data, event_id=None):
    return json.dumps({
        "specversion": "1.0", "id": event_id or str(uuid.uuid4()), "source": source,
        "type": type_, "time": "2026-11-25T09:00:00.000Z", "subject": str(subject),
        "datacontenttype": "application/json", "data": data,
    })


class BusInputTest(StackTestCase):

    def snapshot(self, product_id, order_id, user_id):
        """Everything the hostile events could change, read through the API."""
        return {
            "order": self.stack.get("/orders/%d" % order_id),
            "stock": self.stock(product_id),
            "payments": self.payments(order_id),
            "deliveries": self.deliveries(order_id),
            "mypage": self.mypage_row(user_id, order_id),
        }

    def paid_order(self, user_id):
        product = self.create_product("Bookcase Billy", 50, 700)
        order_id = self.place(product, 2, user_id)
        self.wait_order(order_id, "PAID")
        self.wait_delivery(order_id, "RECEIVED")
        self.wait_mypage(user_id, order_id, orderStatus="PAID", deliveryStatus="RECEIVED")
        return product, order_id

    def assert_dead_lettered(self, dlq, topic, payload, reason_part):
        with self.stack.subscribe(dlq, qos=1) as letters:
            self.stack.mqtt_pub(topic, payload)
            # Another component's letter for an earlier message (order also takes
            # StockReserved) may still come in on the same topic: take the one for ours.
            letter = letters.wait(
                lambda ms: next((m for m in ms if json.loads(m["payload"])["topic"] == topic),
                                None), timeout=10.0)
        body = json.loads(letter["payload"])
        self.assertIn(reason_part, body["reason"])
        self.assertEqual(body["topic"], topic)
        self.assertLessEqual(len(body["payload"]), 4096)  # cut, not echoed whole

    def test_oversized_and_wrongly_typed_events_are_dead_lettered(self):
        product, order_id = self.paid_order(USER)
        before = self.snapshot(product, order_id, USER)

        big = cloudevent("/hausbus/order", "OrderPlaced", order_id,
                         {"orderId": order_id, "pad": "x" * (70 * 1024)})
        self.assert_dead_lettered("hausbus/v1/dlq/product", "hausbus/v1/evt/order/OrderPlaced",
                                  big, "64 KiB")
        wrong_qty = cloudevent("/hausbus/order", "OrderPlaced", order_id,
                               {"orderId": order_id, "productId": product, "qty": "ten",
                                "userId": USER})
        self.assert_dead_lettered("hausbus/v1/dlq/product", "hausbus/v1/evt/order/OrderPlaced",
                                  wrong_qty, "OrderPlaced needs")
        wrong_amount = cloudevent("/hausbus/product", "StockReserved", order_id,
                                  {"orderId": order_id, "userId": USER, "amount": -5})
        self.assert_dead_lettered("hausbus/v1/dlq/payment",
                                  "hausbus/v1/evt/product/StockReserved", wrong_amount,
                                  "StockReserved needs")
        unknown_order = cloudevent("/hausbus/payment", "PaymentApproved", 999999,
                                   {"orderId": 999999, "userId": USER, "amount": 1})
        self.assert_dead_lettered("hausbus/v1/dlq/order",
                                  "hausbus/v1/evt/payment/PaymentApproved", unknown_order,
                                  "unknown order")
        bad_delivery = cloudevent("/hausbus/order", "OrderPaid", order_id,
                                  {"orderId": "seven"})
        self.assert_dead_lettered("hausbus/v1/dlq/delivery", "hausbus/v1/evt/order/OrderPaid",
                                  bad_delivery, "OrderPaid needs")
        bad_view = cloudevent("/hausbus/delivery", "DeliveryStarted", order_id,
                              {"orderId": order_id, "userId": USER, "version": 1.5,
                               "status": "SHIPPING"})
        self.assert_dead_lettered("hausbus/v1/dlq/view",
                                  "hausbus/v1/evt/delivery/DeliveryStarted", bad_view,
                                  "event needs")

        self.settle()
        self.assertEqual(self.snapshot(product, order_id, USER), before)
        self.assertEqual(self.stack.exit_codes(), {})

    def test_late_and_out_of_order_events_change_nothing(self):
        product, order_id = self.paid_order(USER + 1)
        order = self.stack.get("/orders/%d" % order_id)
        before = self.snapshot(product, order_id, USER + 1)
        stale = dict(order, orderId=order_id, status="PLACED", version=1)
        # An old OrderPlaced (new id, old version): product replays its answer, payment
        # replays the charge, order and view keep the newer state.
        self.stack.mqtt_pub("hausbus/v1/evt/order/OrderPlaced",
                            cloudevent("/hausbus/order", "OrderPlaced", order_id, stale))
        # A late StockReserved and PaymentApproved for a PAID order.
        self.stack.mqtt_pub("hausbus/v1/evt/product/StockReserved",
                            cloudevent("/hausbus/product", "StockReserved", order_id,
                                       {"orderId": order_id, "productId": product, "qty": 2,
                                        "userId": USER + 1, "amount": 1400}))
        self.stack.mqtt_pub("hausbus/v1/evt/payment/PaymentApproved",
                            cloudevent("/hausbus/payment", "PaymentApproved", order_id,
                                       {"orderId": order_id, "userId": USER + 1,
                                        "amount": 1400, "status": "APPROVED", "version": 1}))
        # A delivery event older than what the order and the view know.
        delivery = before["deliveries"][0]
        self.stack.mqtt_pub("hausbus/v1/evt/delivery/DeliveryCreated",
                            cloudevent("/hausbus/delivery", "DeliveryCreated", order_id,
                                       dict(delivery, deliveryId=delivery["id"], version=1)))
        self.settle()
        self.assertEqual(self.snapshot(product, order_id, USER + 1), before)
        # The components are still there and still work.
        self.assertEqual(self.stack.exit_codes(), {})
        again = self.place(product, 1, USER + 1)
        self.wait_order(again, "PAID")
