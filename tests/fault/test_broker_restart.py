# The broker restarts mid-load, gracefully and with kill -9; every saga still ends consistent.
import random
import signal
import time
import unittest

import fault_load
from hausbus_harness import StackTestCase

MIN_ORDERS = 500


class BrokerRestartTest(StackTestCase):
    stack_env = fault_load.FAULT_ENV

    def restart_broker(self, rng, sig):
        """Restarts the broker with sig while two components are down, so that it holds
        queued messages for them: a graceful stop must keep those, a kill -9 loses the
        ones since its last autosave and the order component's re-drive must ask again."""
        down = [rng.choice(("product", "payment", "delivery")),
                rng.choice(("notification", "view"))]
        fault_load.note("kill -9 %s" % " ".join(down))
        for name in down:
            self.stack.kill(name, signal.SIGKILL)
        time.sleep(rng.uniform(1.0, 2.0))
        fault_load.note("broker %s" % sig.name)
        self.stack.stop_broker(sig)
        time.sleep(rng.uniform(0.2, 1.5))
        self.stack.start_broker()
        for name in down:
            self.stack.start(name, wait=False)
        self.stack.wait_healthy()
        fault_load.note("broker and %s back" % " ".join(down))
        return down

    def test_broker_restarts_under_load_lose_and_double_nothing(self):
        seed = fault_load.seed_from_env()
        print("seed %d (HAUSBUS_FAULT_SEED=%d repeats the choices)" % (seed, seed))
        rng = random.Random(seed)
        products = fault_load.create_products(self.stack)
        load = fault_load.SagaLoad(self.stack, seed, products)
        down = {}
        load.start()
        try:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                time.sleep(rng.uniform(2.0, 5.0))  # a random moment of the load
                down[sig.name] = self.restart_broker(rng, sig)
            time.sleep(rng.uniform(1.0, 3.0))  # load on the restarted broker too
            load.wait_accepted(MIN_ORDERS, timeout=60)
        finally:
            load.stop()
        bad, checks, rounds, statuses = fault_load.settle(self.stack, products, load.accepted)
        fault_load.print_counts(load, statuses, checks, rounds,
                                broker_restarts="%d, components down meanwhile %r"
                                % (len(down), down))
        fault_load.fail_on(self, bad)
        self.assertGreaterEqual(len(load.accepted), MIN_ORDERS)


if __name__ == "__main__":
    unittest.main()
