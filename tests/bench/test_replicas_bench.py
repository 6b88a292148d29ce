# Runs bench/replicas.py, the PostgreSQL replicas benchmark, on a tiny load: it must finish.
"""A smoke run of bench/replicas.py: 100 orders through saga_load against 2 replicas of
every component on a private PostgreSQL. It asserts that the tool, the harness and the
replicated stack work together (a row printed, every order PAID), not how fast. Skipped
where the build has no PostgreSQL store or the machine no PostgreSQL server."""
import os
import re
import shutil
import subprocess
import sys
import unittest

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                     "replicas.py")


def postgres_available():
    try:
        from pg_server import bin_dir
        bin_dir()
        return True
    except (ImportError, RuntimeError):
        return False


@unittest.skipUnless(postgres_available(), "no PostgreSQL server binaries")
class ReplicasBenchSmoke(unittest.TestCase):
    def test_two_replicas_complete_a_small_burst(self):
        argv = [sys.executable, BENCH, "--replicas", "2", "--orders", "100", "--concurrency",
                "4", "--", "--warmup", "20", "--single", "5", "--client",
                "wrk" if shutil.which("wrk") else "python", "--post-timeout", "60",
                "--complete-timeout", "90", "--single-timeout", "30"]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=220)
        self.assertEqual(run.returncode, 0, run.stdout[-3000:] + run.stderr[-3000:])
        line = run.stdout.strip().splitlines()[-1]
        print(line)
        self.assertRegex(line, r"^postgresql 2  completed +\d+/s")
        self.assertGreater(float(re.search(r"completed +(\d+)/s", line).group(1)), 0)


if __name__ == "__main__":
    unittest.main()
