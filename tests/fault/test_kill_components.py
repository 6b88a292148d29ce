# kill -9 each process in turn under an order/cancel load; every saga still ends consistent.
import collections
import random
import signal
import time
import unittest

import fault_load
from hausbus_harness import PROCESSES, StackTestCase

ROUNDS = 2  # each process is killed once per round, in a random order
MIN_ORDERS = 500


class KillComponentsTest(StackTestCase):
    stack_env = fault_load.FAULT_ENV

    def test_processes_killed_under_load_lose_and_double_nothing(self):
        seed = fault_load.seed_from_env()
        print("seed %d (HAUSBUS_FAULT_SEED=%d repeats the choices)" % (seed, seed))
        rng = random.Random(seed)
        products = fault_load.create_products(self.stack)
        load = fault_load.SagaLoad(self.stack, seed, products)
        kills = collections.Counter()
        restarts = 0
        load.start()
        try:
            for _ in range(ROUNDS):
                victims = list(PROCESSES)
                rng.shuffle(victims)
                for name in victims:
                    time.sleep(rng.uniform(0.3, 2.0))  # a random moment of the load
                    self.stack.kill(name, signal.SIGKILL)
                    kills[name] += 1
                    time.sleep(rng.uniform(0.2, 1.0))  # work piles up for it meanwhile
                    self.stack.start(name)
                    restarts += 1
                    if rng.random() < 0.5:
                        # Again while it works through what piled up: a crash loop.
                        time.sleep(rng.uniform(0.0, 0.2))
                        self.stack.kill(name, signal.SIGKILL)
                        kills[name] += 1
                        time.sleep(rng.uniform(0.2, 0.5))
                        self.stack.start(name)
                        restarts += 1
            load.wait_accepted(MIN_ORDERS, timeout=60)
        finally:
            load.stop()
        checks, statuses = fault_load.settle_and_check(self, products, load.accepted)
        fault_load.print_counts(load, statuses, checks, kills=dict(kills), restarts=restarts)
        self.assertGreaterEqual(len(load.accepted), MIN_ORDERS)


if __name__ == "__main__":
    unittest.main()
