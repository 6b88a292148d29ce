# End-to-end saga: forward path, rejections and customer cancels against real processes.
import itertools
import unittest

from hausbus_harness import StackTestCase

_users = itertools.count(2001)  # a fresh user per test keeps mypage and lists apart


class SagaTest(StackTestCase):

    def ship(self, product_id, qty, user_id, name):
        """Drives an order to SHIPPING; returns (order id, delivery id)."""
        order_id = self.place(product_id, qty, user_id, name)
        self.wait_order(order_id, "PAID")
        delivery_id = self.wait_delivery(order_id, "RECEIVED")["id"]
        self.stack.post("/deliveries/%d/confirm" % delivery_id, expect=200)
        self.stack.post("/deliveries/%d/start" % delivery_id, expect=200)
        self.wait_order(order_id, "SHIPPING")
        return order_id, delivery_id

    def assert_error(self, status, body, expected_status):
        self.assertEqual(status, expected_status, body)
        self.assertIsInstance(body, dict)
        self.assertIsInstance(body.get("error"), str)
        self.assertTrue(body["error"])

    def assert_one_payment(self, order_id, status, amount):
        payments = self.payments(order_id)
        self.assertEqual(len(payments), 1, payments)
        self.assertEqual((payments[0]["status"], payments[0]["amount"], payments[0]["orderId"]),
                         (status, amount, order_id))
        return payments[0]

    def test_happy_path_reaches_delivered_with_one_notification(self):
        user = next(_users)
        product = self.create_product("Sofa Kivik", 20, 45000)
        order_id = self.place(product, 3, user, "Sofa Kivik")

        order = self.wait_order(order_id, "PAID")
        self.assertEqual((order["productId"], order["productName"], order["qty"], order["userId"],
                          order["amount"], order["reason"]),
                         (product, "Sofa Kivik", 3, user, 135000, None))
        self.assertEqual(self.stock(product), 17)
        payment = self.assert_one_payment(order_id, "APPROVED", 135000)
        self.assertEqual(payment["userId"], user)

        delivery = self.wait_delivery(order_id, "RECEIVED")
        self.assertEqual((delivery["orderId"], delivery["userId"], delivery["productName"],
                          delivery["qty"]), (order_id, user, "Sofa Kivik", 3))
        self.assertEqual(self.stack.get("/deliveries/%d" % delivery["id"]), delivery)
        self.wait_mypage(user, order_id, productName="Sofa Kivik", qty=3, amount=135000,
                         orderStatus="PAID", paymentStatus="APPROVED",
                         deliveryStatus="RECEIVED", notified=False)

        # Completing a delivery that never shipped is refused and changes nothing.
        status, _, body = self.stack.request("POST", "/deliveries/%d/complete" % delivery["id"])
        self.assert_error(status, body, 409)
        self.assertEqual(self.stack.get("/deliveries/%d" % delivery["id"])["status"], "RECEIVED")

        _, _, body = self.stack.post("/deliveries/%d/confirm" % delivery["id"], expect=200)
        self.assertEqual(body["status"], "PREPARING")
        self.wait_order(order_id, "PREPARING")
        self.wait_mypage(user, order_id, orderStatus="PREPARING", paymentStatus="APPROVED",
                         deliveryStatus="PREPARING", notified=False)
        self.assertEqual(self.notifications(user, order_id), [])

        _, _, body = self.stack.post("/deliveries/%d/start" % delivery["id"], expect=200)
        self.assertEqual(body["status"], "SHIPPING")
        self.wait_order(order_id, "SHIPPING")
        notes = self.stack.wait_for(lambda: self.notifications(user, order_id),
                                    until=lambda n: len(n) == 1 and n[0]["status"] == "SENT",
                                    what="one SENT notification")
        note = notes[0]
        self.assertEqual((note["orderId"], note["deliveryId"], note["userId"], note["channel"]),
                         (order_id, delivery["id"], user, "kakaotalk"))
        self.assertIsInstance(note["text"], str)
        self.assertTrue(note["text"])
        self.wait_mypage(user, order_id, orderStatus="SHIPPING", paymentStatus="APPROVED",
                         deliveryStatus="SHIPPING", notified=True)

        _, _, body = self.stack.post("/deliveries/%d/complete" % delivery["id"], expect=200)
        self.assertEqual(body["status"], "DELIVERED")
        self.wait_order(order_id, "DELIVERED")
        self.wait_mypage(user, order_id, productName="Sofa Kivik", qty=3, amount=135000,
                         orderStatus="DELIVERED", paymentStatus="APPROVED",
                         deliveryStatus="DELIVERED", notified=True)

        self.settle()
        self.assertEqual(len(self.notifications(user, order_id)), 1)
        self.assertEqual(self.stock(product), 17)
        self.assert_one_payment(order_id, "APPROVED", 135000)

    def test_out_of_stock_is_rejected_and_keeps_stock(self):
        user = next(_users)
        product = self.create_product("Lamp Hektar", 2, 3000)
        order_id = self.place(product, 3, user, "Lamp Hektar")
        order = self.wait_order(order_id, "REJECTED")
        self.assertEqual((order["reason"], order["amount"]), ("out_of_stock", 0))
        self.wait_mypage(user, order_id, orderStatus="REJECTED", paymentStatus=None,
                         deliveryStatus=None, notified=False, amount=0)

        status, _, body = self.stack.request("POST", "/orders/%d/cancel" % order_id)
        self.assert_error(status, body, 409)
        self.settle()
        self.assertEqual(self.stack.get("/orders/%d" % order_id)["status"], "REJECTED")
        self.assertEqual(self.stock(product), 2)
        self.assertEqual(self.payments(order_id), [])
        self.assertEqual(self.deliveries(order_id), [])

    def test_unknown_product_is_rejected(self):
        user = next(_users)
        order_id = self.place(987654, 1, user, "Ghost")
        order = self.wait_order(order_id, "REJECTED")
        self.assertEqual((order["reason"], order["amount"]), ("unknown_product", 0))
        self.wait_mypage(user, order_id, orderStatus="REJECTED", paymentStatus=None,
                         deliveryStatus=None, notified=False)
        status, _, body = self.stack.request("POST", "/orders/%d/cancel" % order_id)
        self.assert_error(status, body, 409)
        self.settle()
        self.assertEqual(self.stack.get("/orders/%d" % order_id)["status"], "REJECTED")
        self.assertEqual(self.payments(order_id), [])
        self.assertEqual(self.deliveries(order_id), [])

    def test_payment_declined_releases_stock(self):
        user = next(_users)
        product = self.create_product("Wardrobe Pax", 50, 2000000)
        order_id = self.place(product, 10, user, "Wardrobe Pax")
        order = self.wait_order(order_id, "REJECTED")
        self.assertEqual((order["reason"], order["amount"]), ("payment_declined", 20000000))
        self.stack.wait_for(lambda: self.stock(product), until=lambda s: s == 50,
                            what="stock released to 50")
        self.wait_mypage(user, order_id, orderStatus="REJECTED", paymentStatus="DECLINED",
                         deliveryStatus=None, notified=False, amount=20000000)
        self.settle()
        self.assertEqual(self.stock(product), 50)
        self.assert_one_payment(order_id, "DECLINED", 20000000)
        self.assertEqual(self.deliveries(order_id), [])

    def cancel_and_check_compensations(self, confirm_first):
        user = next(_users)
        product = self.create_product("Bed Malm", 10, 700)
        order_id = self.place(product, 4, user, "Bed Malm")
        self.wait_order(order_id, "PAID")
        delivery_id = self.wait_delivery(order_id, "RECEIVED")["id"]
        if confirm_first:
            self.stack.post("/deliveries/%d/confirm" % delivery_id, expect=200)
            self.wait_order(order_id, "PREPARING")
        self.assertEqual(self.stock(product), 6)

        _, _, body = self.stack.post("/orders/%d/cancel" % order_id, expect=202)
        self.assertEqual(body, {"id": order_id, "status": "CANCELLING"})
        self.wait_order(order_id, "CANCELLED")
        self.wait_delivery(order_id, "CANCELLED")
        self.stack.wait_for(lambda: self.payments(order_id),
                            until=lambda p: [x["status"] for x in p] == ["REFUNDED"],
                            what="the one payment REFUNDED")
        self.stack.wait_for(lambda: self.stock(product), until=lambda s: s == 10,
                            what="stock restored to 10")
        self.wait_mypage(user, order_id, orderStatus="CANCELLED", paymentStatus="REFUNDED",
                         deliveryStatus="CANCELLED", notified=False, amount=2800)

        # A second cancel is accepted and compensates nothing new.
        self.stack.post("/orders/%d/cancel" % order_id, expect=202)
        self.settle()
        self.assertEqual(self.stack.get("/orders/%d" % order_id)["status"], "CANCELLED")
        self.assert_one_payment(order_id, "REFUNDED", 2800)
        self.assertEqual([d["status"] for d in self.deliveries(order_id)], ["CANCELLED"])
        self.assertEqual(self.stock(product), 10)
        self.wait_mypage(user, order_id, orderStatus="CANCELLED", paymentStatus="REFUNDED",
                         deliveryStatus="CANCELLED", notified=False)

    def test_cancel_when_paid_compensates_everything_once(self):
        self.cancel_and_check_compensations(confirm_first=False)

    def test_cancel_when_preparing_compensates_everything_once(self):
        self.cancel_and_check_compensations(confirm_first=True)

    def test_cancel_right_after_placing_ends_cancelled(self):
        user = next(_users)
        product = self.create_product("Chair Ekedalen", 10, 900)
        order_id = self.place(product, 4, user, "Chair Ekedalen")
        _, _, body = self.stack.post("/orders/%d/cancel" % order_id, expect=202)
        self.assertEqual(body, {"id": order_id, "status": "CANCELLING"})
        self.wait_order(order_id, "CANCELLED")
        self.stack.wait_for(lambda: self.stock(product), until=lambda s: s == 10,
                            what="stock restored to 10")
        self.settle()
        self.assertEqual(self.stock(product), 10)
        # The cancel may have overtaken the charge or not; either way nothing stays charged.
        payments = self.payments(order_id)
        self.assertLessEqual(len(payments), 1, payments)
        self.assertTrue(all(p["status"] == "REFUNDED" for p in payments), payments)
        self.assertTrue(all(d["status"] == "CANCELLED" for d in self.deliveries(order_id)))
        self.wait_mypage(user, order_id, orderStatus="CANCELLED",
                         paymentStatus=payments[0]["status"] if payments else None)

    def test_cancel_after_shipping_is_refused(self):
        user = next(_users)
        product = self.create_product("Desk Alex", 10, 1500)
        order_id, delivery_id = self.ship(product, 2, user, "Desk Alex")
        status, _, body = self.stack.request("POST", "/orders/%d/cancel" % order_id)
        self.assert_error(status, body, 409)
        self.settle()
        self.assertEqual(self.stack.get("/orders/%d" % order_id)["status"], "SHIPPING")
        self.assertEqual(self.stack.get("/deliveries/%d" % delivery_id)["status"], "SHIPPING")
        self.assert_one_payment(order_id, "APPROVED", 3000)
        self.assertEqual(self.stock(product), 8)
        self.wait_mypage(user, order_id, orderStatus="SHIPPING", paymentStatus="APPROVED",
                         deliveryStatus="SHIPPING", notified=True)

    def test_cancel_after_delivery_is_refused(self):
        user = next(_users)
        product = self.create_product("Shelf Billy", 10, 600)
        order_id, delivery_id = self.ship(product, 5, user, "Shelf Billy")
        self.stack.post("/deliveries/%d/complete" % delivery_id, expect=200)
        self.wait_order(order_id, "DELIVERED")
        status, _, body = self.stack.request("POST", "/orders/%d/cancel" % order_id)
        self.assert_error(status, body, 409)
        self.settle()
        self.assertEqual(self.stack.get("/orders/%d" % order_id)["status"], "DELIVERED")
        self.assertEqual(self.stack.get("/deliveries/%d" % delivery_id)["status"], "DELIVERED")
        self.assert_one_payment(order_id, "APPROVED", 3000)
        self.assertEqual(self.stock(product), 5)
        self.assertEqual(len(self.notifications(user, order_id)), 1)
        self.wait_mypage(user, order_id, orderStatus="DELIVERED", paymentStatus="APPROVED",
                         deliveryStatus="DELIVERED", notified=True)

    def test_orders_list_by_user(self):
        user = next(_users)
        product = self.create_product("Rug Stoense", 100, 50)
        placed = {self.place(product, 1, user), self.place(product, 2, user),
                  self.place(987654, 1, user)}
        orders = self.stack.get("/orders?userId=%d" % user)
        self.assertEqual({o["id"] for o in orders}, placed)
        self.assertTrue(all(o["userId"] == user for o in orders))
        self.assertTrue(placed <= {o["id"] for o in self.stack.get("/orders")})
        self.assertEqual(self.stack.get("/orders?userId=%d" % next(_users)), [])
        self.assertEqual(self.stack.get("/mypage/%d" % next(_users)), [])
        # Every order gets exactly one mypage row.
        self.stack.wait_for(lambda: self.stack.get("/mypage/%d" % user),
                            until=lambda rows: sorted(r["orderId"] for r in rows) == sorted(placed),
                            what="one mypage row per order")

    def test_seed_scenario_tv(self):
        user = 1001
        product = self.create_product("TV", 100, 1200)
        order_id = self.place(product, 10, user, "TV")
        order = self.wait_order(order_id, "PAID")
        self.assertEqual(order["amount"], 12000)
        self.assertEqual(self.stock(product), 90)
        self.assert_one_payment(order_id, "APPROVED", 12000)
        self.wait_delivery(order_id, "RECEIVED")
        self.wait_mypage(user, order_id, productName="TV", qty=10, amount=12000,
                         orderStatus="PAID", paymentStatus="APPROVED",
                         deliveryStatus="RECEIVED", notified=False)


if __name__ == "__main__":
    unittest.main()
