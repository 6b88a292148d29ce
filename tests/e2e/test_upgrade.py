# A data dir from the last release before numbered migrations (2c085fd) opens and keeps
# its data: the databases in tests/files/databases-2c085fd were made by that release's
# ./run.sh (two products; order 1 DELIVERED, 2 CANCELLED after payment, 3 REJECTED out of
# stock, 4 SHIPPING; notifications sent for 1 and 4), then stopped cleanly. Each database
# is recorded at the newest version of lib's part (2) and of its component's (payment and
# notification 2, the others 1), and the saga goes on.
import glob
import os
import shutil
import sqlite3
import unittest

from hausbus_harness import POSTGRES, Stack, StackTestCase

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "files",
                        "databases-2c085fd")
COMPONENTS = ("order", "product", "payment", "delivery", "notification", "view")


@unittest.skipIf(POSTGRES, "sqlite databases of a release; PostgreSQL starts at version 1")
class UpgradeFromReleaseTest(unittest.TestCase):

    def test_release_databases_open_keep_their_data_and_the_saga_goes_on(self):
        stack = Stack()
        for path in glob.glob(os.path.join(FIXTURES, "*.db")):
            target = os.path.join(stack.data_dir, os.path.basename(path))
            shutil.copyfile(path, target)
            os.chmod(target, 0o600)
        with stack:
            case = StackTestCase()
            case.stack = stack
            orders = {i: stack.get("/orders/%d" % i) for i in (1, 2, 3, 4)}
            self.assertEqual({i: o["status"] for i, o in orders.items()},
                             {1: "DELIVERED", 2: "CANCELLED", 3: "REJECTED", 4: "SHIPPING"})
            self.assertEqual(orders[3]["reason"], "out_of_stock")
            self.assertEqual((orders[1]["amount"], orders[1]["productName"]), (90000, "Sofa Kivik"))
            self.assertEqual(case.stock(1), 7)
            self.assertEqual([p["status"] for p in case.payments(2)], ["REFUNDED"])
            self.assertEqual([n["status"] for n in case.notifications(1001, 1)], ["SENT"])
            row = case.mypage_row(1001, 1)
            self.assertEqual((row["orderStatus"], row["deliveryStatus"], row["notified"]),
                             ("DELIVERED", "DELIVERED", True))

            # New ids follow the old ones; the open saga of order 4 completes.
            order_id = case.place(1, 1, 1005)
            self.assertEqual(order_id, 5)
            case.wait_order(order_id, "PAID")
            self.assertEqual(case.stock(1), 6)
            delivery = case.deliveries(4)[0]["id"]
            stack.post("/deliveries/%d/complete" % delivery, expect=200)
            case.wait_order(4, "DELIVERED")
            case.wait_mypage(1004, 4, orderStatus="DELIVERED", deliveryStatus="DELIVERED")

            # A running component holds its database exclusively: stop each to read it,
            # then start it again (at version 1 already: nothing to migrate).
            for name in COMPONENTS:
                stack.kill(name, sig=15)
                db = sqlite3.connect(os.path.join(stack.data_dir, name + ".db"))
                try:
                    versions = dict(db.execute("SELECT part, version FROM hb_schema_version"))
                finally:
                    db.close()
                newest = {"payment": 2, "notification": 2}.get(name, 1)
                self.assertEqual(versions, {"hausbus": 3, name: newest}, name)
                stack.start(name)
            case.wait_order(case.place(1, 1, 1006), "PAID")


if __name__ == "__main__":
    unittest.main()
