# Many customers race for the last units: stock never oversells and every order ends.
import collections
import concurrent.futures
import unittest

from hausbus_harness import StackTestCase

STOCK = 100
ORDERS = 200
WORKERS = 32
USER = 7001


class ConcurrencyTest(StackTestCase):

    def test_200_orders_for_100_units_sell_exactly_100(self):
        product = self.create_product("Stool Frosta", STOCK, 25)

        def post(_):
            return self.stack.request("POST", "/orders",
                                      {"productId": product, "qty": 1, "userId": USER})

        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            answers = list(pool.map(post, range(ORDERS)))
        self.assertEqual(collections.Counter(a[0] for a in answers), {202: ORDERS},
                         [a for a in answers if a[0] != 202][:5])
        ids = {a[2]["id"] for a in answers}
        self.assertEqual(len(ids), ORDERS)

        def statuses():
            return collections.Counter(o["status"] for o in
                                       self.stack.get("/orders?userId=%d" % USER))

        counts = self.stack.wait_for(
            statuses, timeout=60, interval=0.2,
            until=lambda c: c["PAID"] + c["REJECTED"] == ORDERS,
            what="every order PAID or REJECTED")
        self.assertEqual(counts, {"PAID": STOCK, "REJECTED": ORDERS - STOCK})

        orders = self.stack.get("/orders?userId=%d" % USER)
        self.assertEqual({o["id"] for o in orders}, ids)
        rejected = [o for o in orders if o["status"] == "REJECTED"]
        self.assertEqual({o["reason"] for o in rejected}, {"out_of_stock"})
        self.assertEqual(self.stock(product), 0)

        paid = {o["id"] for o in orders if o["status"] == "PAID"}
        payments = [p for p in self.stack.get("/payments") if p["orderId"] in ids]
        self.assertEqual(len(payments), STOCK)
        self.assertTrue(all(p["status"] == "APPROVED" and p["amount"] == 25 for p in payments))
        self.assertEqual({p["orderId"] for p in payments}, paid)

        # The view catches up with the order component.
        self.stack.wait_for(
            lambda: {r["orderId"]: r["orderStatus"] for r in self.stack.get("/mypage/%d" % USER)},
            timeout=30, interval=0.2,
            until=lambda rows: rows == {o["id"]: o["status"] for o in orders},
            what="mypage agreeing with the orders")


if __name__ == "__main__":
    unittest.main()
