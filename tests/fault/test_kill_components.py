# kill -9 each process in turn under an order/cancel load; every saga still ends consistent.
import collections
import random
import signal
import time
import unittest

import fault_load
from hausbus_harness import PROCESSES, StackTestCase

ROUNDS = 2  # each process crashes twice per round, in a random order
MIN_ORDERS = 500


def crash(stack, name, down_s):
    """kill -9, down_s seconds away, then start again (waits until all are online)."""
    fault_load.note("kill -9 %s" % name)
    stack.kill(name, signal.SIGKILL)
    time.sleep(down_s)
    stack.start(name)
    fault_load.note("%s back" % name)


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
                    crash(self.stack, name, rng.uniform(0.2, 1.0))  # work piles up meanwhile
                    kills[name] += 1
                    restarts += 1
                    # Again while it works through what piled up: a crash loop.
                    time.sleep(rng.uniform(0.0, 0.2))
                    crash(self.stack, name, rng.uniform(0.2, 0.5))
                    kills[name] += 1
                    restarts += 1
            load.wait_accepted(MIN_ORDERS, timeout=60)
        finally:
            load.stop()
        bad, checks, rounds, statuses = fault_load.settle(self.stack, products, load.accepted)
        fault_load.print_counts(load, statuses, checks, rounds, kills=dict(kills),
                                restarts=restarts)
        fault_load.fail_on(self, bad)
        self.assertGreaterEqual(len(load.accepted), MIN_ORDERS)


if __name__ == "__main__":
    unittest.main()
