# Runs bench/saga_load.py, the team's load generator, against a private stack: it must finish with every order PAID.
"""A smoke run of the benchmark: a few hundred orders at concurrency 8 through
bench/saga_load.py (wrk when installed, else its Python client) against the harness's
stack on free loopback ports. It asserts that the tool and the stack work together
(every accepted order PAID, stock consistent, the single orders through), not how fast."""
import json
import os
import shutil
import subprocess
import sys
import unittest

from hausbus_harness import Stack

SAGA_LOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                         "saga_load.py")
ORDERS = 300


class SagaLoadSmoke(unittest.TestCase):
    def test_every_order_of_a_small_burst_is_paid(self):
        client = "wrk" if shutil.which("wrk") else "python"
        with Stack(log_level="warn") as stack:
            pids = os.path.join(stack.tmp, "pids")
            with open(pids, "w") as f:
                f.write("".join("%d %s\n" % (stack.pid(n), n) for n in stack.process_names()))
            argv = [sys.executable, SAGA_LOAD, "--url", "http://127.0.0.1:%d" % stack.http_port,
                    "--orders", str(ORDERS), "--concurrency", "8", "--warmup", "100",
                    "--single", "20", "--client", client, "--pids-file", pids,
                    "--broker-pid", str(stack.pid("broker")),
                    # Bounds well inside ctest's timeout, sanitizer builds included.
                    "--post-timeout", "60", "--complete-timeout", "60", "--single-timeout", "30"]
            run = subprocess.run(argv, capture_output=True, text=True, timeout=200)
            if run.returncode != 0:
                sys.stderr.write(run.stderr)
            lines = run.stdout.strip().splitlines()
            self.assertTrue(lines, "saga_load printed nothing")
            result = json.loads(lines[-1])
            print("saga_load via %s: %s" % (client, json.dumps(result.get("summary"))))
            self.assertEqual(result.get("mismatches"), [])
            self.assertTrue(result["ok"])
            self.assertEqual(result["burst"]["accepted"], ORDERS)
            self.assertEqual(result["e2e"]["paid"], ORDERS)
            self.assertEqual(result["single"]["n_failed"], 0)
            self.assertEqual(run.returncode, 0)


if __name__ == "__main__":
    unittest.main()
