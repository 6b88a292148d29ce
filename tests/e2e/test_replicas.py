# Three replicas of every component on one PostgreSQL database, sharing their
# subscriptions ($share/hausbus-<component>/...): the saga still ends right when two
# replicas get two events of one order at once, when replicas are killed -9 under load
# (their in-flight messages lost with them), and when the database restarts. PostgreSQL
# only (label e2e-pg): sqlite belongs to one process.
import os
import signal
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from hausbus_harness import COMPONENTS, POSTGRES, StackTestCase

REPLICAS = ("r2", "r3")  # besides the stack's own process of each component


@unittest.skipUnless(POSTGRES, "replicas share a PostgreSQL database (the e2e-pg run)")
class ReplicasTest(StackTestCase):
    # Messages lost with a killed replica are asked for again after a second.
    stack_env = {"HAUSBUS_REDRIVE_MS": "1000"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for component in COMPONENTS:
            for instance in REPLICAS:
                cls.stack.start_replica(component, instance)

    def place_many(self, product, n, user, workers=16):
        """n orders of qty 1 at once; their ids."""
        def one(_):
            status, _, order = self.stack.request(
                "POST", "/orders", {"productId": product, "qty": 1, "userId": user})
            self.assertEqual(status, 202, order)
            return order["id"]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, range(n)))

    def settled(self, order_ids, timeout=60):
        """Waits until every order is in a final state or PAID; their statuses."""
        final = {"PAID", "REJECTED", "CANCELLED", "DELIVERED"}
        statuses = {}

        def done():
            for order_id in order_ids:
                if statuses.get(order_id) not in final:
                    statuses[order_id] = self.stack.get("/orders/%d" % order_id)["status"]
            return all(s in final for s in statuses.values())
        self.stack.wait_for(done, timeout, what="every order settled", interval=0.2)
        return statuses

    def test_200_concurrent_orders_against_stock_100_pay_exactly_100(self):
        product = self.create_product("Lamp Ranarp", 100, 700)
        ids = self.place_many(product, 200, 6001)
        statuses = self.settled(ids)
        paid = [i for i, s in statuses.items() if s == "PAID"]
        self.assertEqual(len(paid), 100, sorted(statuses.values()))
        self.assertEqual(sum(1 for s in statuses.values() if s == "REJECTED"), 100)
        self.assertEqual(self.stock(product), 0)
        for order_id in paid:
            payments = self.payments(order_id)
            self.assertEqual([p["status"] for p in payments], ["APPROVED"], order_id)
        for order_id in ids[::10]:
            self.wait_mypage(6001, order_id, orderStatus=statuses[order_id])

    def test_cancels_in_every_state_compensate_everything(self):
        product = self.create_product("Desk Micke", 50, 1000)
        placed = self.place_many(product, 10, 6002)
        # Straight away (PLACED or just reserved), once PAID, once PREPARING.
        for order_id in placed[:4]:
            self.stack.post("/orders/%d/cancel" % order_id)
        for order_id in placed[4:]:
            self.wait_order(order_id, "PAID", timeout=30)
        for order_id in placed[4:7]:
            self.stack.post("/orders/%d/cancel" % order_id, expect=202)
        for order_id in placed[7:]:
            delivery = self.wait_delivery(order_id, "RECEIVED")
            self.stack.post("/deliveries/%d/confirm" % delivery["id"], expect=200)
            self.stack.post("/orders/%d/cancel" % order_id, expect=202)
        for order_id in placed:
            self.wait_order(order_id, "CANCELLED", timeout=30)
        self.stack.wait_for(lambda: self.stock(product), 30, until=lambda s: s == 50,
                            what="stock restored to 50")
        for order_id in placed[4:]:
            self.stack.wait_for(lambda: self.payments(order_id), 30,
                                until=lambda ps: [p["status"] for p in ps] == ["REFUNDED"],
                                what="order %d refunded once" % order_id)

    def test_kill_9_of_replicas_and_a_database_restart_under_load(self):
        product = self.create_product("Bed Malm", 10000, 300)

        def chaos():
            time.sleep(0.5)
            for component in COMPONENTS:  # one replica of each dies mid-work...
                self.stack.kill("%s@r2" % component)
            time.sleep(0.5)
            self.stack.postgres.kill()  # ...then the database, and comes back
            time.sleep(0.5)
            self.stack.postgres.start()
            time.sleep(1.0)
            for component in COMPONENTS:  # a new replica takes the dead one's place
                self.stack.start_replica(component, "r4")
        accepted = self.place_during(product, 6003, chaos)
        self.assertGreater(len(accepted), 50)
        # A POST whose replica was killed after committing and before replying answered
        # 504, yet its order exists: count the orders the order component holds.
        ids = [o["id"] for o in self.stack.get("/orders?userId=6003")]
        self.assertLessEqual(set(accepted), set(ids))
        statuses = self.settled(ids, timeout=90)
        self.assertEqual(set(statuses.values()), {"PAID"})
        self.assertEqual(self.stock(product), 10000 - len(ids))
        for order_id in ids[::5]:
            self.assertEqual([p["status"] for p in self.payments(order_id)], ["APPROVED"])
        self.wait_mypage(6003, ids[-1], orderStatus="PAID")

    def test_what_a_frozen_replica_held_comes_back_once_it_is_gone(self):
        """A view replica frozen (SIGSTOP) while the broker hands it its share, then killed:
        what was in flight to it and queued for it is lost with it (clean sessions). The
        replica that notices it gone (no beat for 15 s) asks the owners to replay from the
        lost replica's own marks, and the view shows every order as it is."""
        product = self.create_product("Shelf Kallax", 1000, 500)
        name = self.stack.start_replica("view", "r5")
        os.kill(self.stack.procs[name].pid, signal.SIGSTOP)
        try:
            ids = self.place_many(product, 24, 6004, workers=4)
            for order_id in ids:
                self.wait_order(order_id, "PAID", timeout=30)
        finally:
            self.stack.kill(name)  # SIGKILL ends a stopped process too
        for order_id in ids:
            self.wait_mypage(6004, order_id, timeout=60, orderStatus="PAID")


if __name__ == "__main__":
    unittest.main()
