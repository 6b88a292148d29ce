# The shared database dies (kill -9) and comes back: every component reconnects on its
# own, nothing committed is lost, and orders placed before, during and after the outage
# all end PAID with the stock counted once each. PostgreSQL only: sqlite is a file inside
# each component, which has no server to lose.
import time
import unittest

from hausbus_harness import POSTGRES, StackTestCase


@unittest.skipUnless(POSTGRES, "a database server to restart: the PostgreSQL run (e2e-pg)")
class DatabaseRestartTest(StackTestCase):

    def test_kill_9_of_the_database_under_load_loses_nothing(self):
        product = self.create_product("Chair Ingolf", 1000, 100)
        before = [self.place(product, 1, 5001) for _ in range(20)]
        for order_id in before:
            self.wait_order(order_id, "PAID")

        # Orders keep coming while the server is killed and restarted.
        def restart():
            time.sleep(0.3)
            self.stack.postgres.kill()
            time.sleep(1.0)
            self.stack.postgres.start()
            time.sleep(0.5)
        during = self.place_during(product, 5002, restart, limit=200, pause=0.01)

        after = [self.place(product, 1, 5003) for _ in range(10)]
        everyone = before + during + after
        for order_id in everyone:
            self.wait_order(order_id, "PAID", timeout=60)
        self.assertEqual(self.stock(product), 1000 - len(everyone))
        for order_id in everyone[::7]:
            self.assertEqual(len(self.payments(order_id)), 1, order_id)
        self.wait_mypage(5003, after[-1], orderStatus="PAID")


if __name__ == "__main__":
    unittest.main()
