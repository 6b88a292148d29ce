# ./run.sh as a supervisor: kill -9 of a component, the gateway and the broker under an
# order load; each comes back, every order settles, and SIGTERM stops everything.
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import unittest

import fault_load
from hausbus_harness import (ALLINONE, COMPONENTS, SANITIZER_MARKERS, TIMEOUT_SCALE,
                             VALGRIND, Stack, bin_dir)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
START_TIMEOUT_S = 180.0  # run.sh builds first: a no-op on a built tree, but cmake runs
RESTART_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0  # two stop graces of the supervisors (10 s each) and some
MIN_ORDERS = 150


def build_bin():
    """The test's build tree's bin/, spelled as run.sh will put it in argv[0]."""
    return os.path.normpath(os.path.abspath(bin_dir()))


def our_pids(data_dir):
    """Every process whose environment names data_dir: run.sh, its supervisors and
    whatever they started (they inherit run.sh's environment)."""
    needle = ("HAUSBUS_DATA_DIR=%s" % data_dir).encode()
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                if needle in f.read().split(b"\0"):
                    out.append(int(pid))
        except OSError:
            pass  # gone, or not ours to read
    return out


def program_pids(data_dir, exe):
    """The pids among our_pids whose command line starts with exe."""
    out = []
    for pid in our_pids(data_dir):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].decode(errors="replace") == exe:
            out.append(pid)
    return out


class RunShStack(Stack):
    """./run.sh on the harness's free ports and data dir, against the test's build tree
    (HAUSBUS_BUILD_DIR); request(), wait_healthy() and friends as for any Stack."""

    def launch(self):
        """Starts run.sh without waiting for anything."""
        env = dict(self.env, HAUSBUS_BUILD_DIR=os.path.dirname(build_bin()))
        self.log_path = os.path.join(self.tmp, "run.sh.log")
        self._log = open(self.log_path, "ab")
        self.run_sh = subprocess.Popen([os.path.join(ROOT, "run.sh")], env=env,
                                       stdin=subprocess.DEVNULL, stdout=self._log,
                                       stderr=self._log, start_new_session=True)

    def start_all(self):
        self.launch()
        self.wait_healthy(START_TIMEOUT_S)

    def _check_alive(self):
        if self.run_sh.poll() is not None:
            raise AssertionError("run.sh exited %s" % self.run_sh.returncode)

    def stop_all(self, ctrl_c=False):
        """SIGTERM to run.sh, or with ctrl_c SIGINT to its process group as a terminal's
        Ctrl-C sends it; returns what went wrong: not stopped in time, a non-zero exit, a
        restart meanwhile, no "stopped" line, a process of ours left, a sanitizer report."""
        problems = []
        restarts_before = len(self.restarts())
        if self.run_sh.poll() is None:
            if ctrl_c:
                os.killpg(self.run_sh.pid, signal.SIGINT)
            else:
                self.run_sh.terminate()
            try:
                self.run_sh.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                problems.append("run.sh did not stop within %.0fs" % STOP_TIMEOUT_S)
        if self.run_sh.returncode != 0:
            problems.append("run.sh exited %s on SIGTERM" % self.run_sh.returncode)
        left = our_pids(self.data_dir)
        if left:
            problems.append("processes left after run.sh: %r" % left)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self._log.close()
        if len(self.restarts()) != restarts_before:
            problems.append("run.sh restarted a program while stopping")
        with open(self.log_path, "rb") as f:
            if '"msg":"stopped"' not in f.read().decode("utf-8", "replace"):
                problems.append("run.sh did not log that it stopped")
        problems += self._sanitizer_reports()
        # Keep the logs and databases of a failed run (the test prints the log's path).
        if not problems and not os.environ.get("HAUSBUS_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems

    def _sanitizer_reports(self):
        with open(self.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return ["run.sh log has %r" % m for m in SANITIZER_MARKERS if m in text]

    def restarts(self):
        """run.sh's restart lines, parsed: [{"program", "ended", "delayMs", ...}]."""
        out = []
        with open(self.log_path, "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                if line.startswith('{"time"') and '"component":"run.sh"' in line:
                    entry = json.loads(line)
                    if "program" in entry and "delayMs" in entry:
                        out.append(entry)
        return out

    def print_logs(self):
        with open(self.log_path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        print("----- run.sh log (%s), last 60 lines -----" % self.log_path)
        print("\n".join(lines[-60:]))


@unittest.skipIf(VALGRIND, "run.sh starts the programs itself, not under memcheck")
class RunShSupervisorTest(unittest.TestCase):
    """Seven programs and the broker; stopped with SIGTERM."""
    allinone = False

    def setUp(self):
        env = dict(fault_load.FAULT_ENV, HAUSBUS_ALLINONE="1" if self.allinone else "0")
        self.stack = RunShStack(env=env)
        try:
            self.stack.start_all()
        except BaseException:
            self.stack.print_logs()
            self.stack.stop_all()
            raise

    def tearDown(self):
        if self.stack.run_sh.poll() is None:  # a failed test: stop, keep the logs
            self.stack.print_logs()
            self.stack.stop_all()

    def kill9(self, program, exe, how_many_restarts):
        """kill -9 of exe's one process; waits until run.sh has started a new one and
        the stack is healthy again."""
        pids = program_pids(self.stack.data_dir, exe)
        self.assertEqual(len(pids), 1, "%s: %r" % (exe, pids))
        fault_load.note("kill -9 %s (pid %d)" % (program, pids[0]))
        os.kill(pids[0], signal.SIGKILL)
        self.stack.wait_for(lambda: program_pids(self.stack.data_dir, exe),
                            RESTART_TIMEOUT_S, until=lambda p: p and p != pids,
                            what="%s started again" % program)
        self.stack.wait_healthy(RESTART_TIMEOUT_S)
        fault_load.note("%s back" % program)
        restarted = [r for r in self.stack.restarts() if r["program"] == program]
        self.assertEqual(len(restarted), how_many_restarts, restarted)
        self.assertEqual(restarted[-1]["ended"], "signal KILL")

    def test_killed_processes_come_back_and_every_order_settles(self):
        seed = fault_load.seed_from_env()
        print("seed %d (HAUSBUS_FAULT_SEED=%d repeats the choices)" % (seed, seed))
        rng = random.Random(seed)
        if self.allinone:
            victims = [(ALLINONE, os.path.join(build_bin(), ALLINONE))]
        else:
            component = rng.choice(COMPONENTS)
            victims = [("hausbus-" + name, os.path.join(build_bin(), "hausbus-" + name))
                       for name in (component, "gateway")]
        victims.append(("mosquitto", "mosquitto"))
        products = fault_load.create_products(self.stack)
        load = fault_load.SagaLoad(self.stack, seed, products)
        load.start()
        try:
            for program, exe in victims:
                time.sleep(rng.uniform(1.0, 2.5))  # orders in flight when it dies
                self.kill9(program, exe, 1)
            load.wait_accepted(MIN_ORDERS, timeout=60 * TIMEOUT_SCALE)
        finally:
            load.stop()
        bad, checks, rounds, statuses = fault_load.settle(self.stack, products, load.accepted)
        fault_load.print_counts(load, statuses, checks, rounds,
                                restarts=[r["msg"] for r in self.stack.restarts()])
        if bad:
            self.stack.print_logs()
        fault_load.fail_on(self, bad)
        self.assertEqual(sorted(r["program"] for r in self.stack.restarts()),
                         sorted(p for p, _ in victims))

        started = time.monotonic()
        problems = self.stack.stop_all(ctrl_c=self.allinone)
        if problems:
            self.stack.print_logs()
        self.assertEqual(problems, [])
        self.assertLess(time.monotonic() - started, STOP_TIMEOUT_S)


class RunShAllInOneSupervisorTest(RunShSupervisorTest):
    """HAUSBUS_ALLINONE=1 ./run.sh: the one hausbus process and the broker; stopped with
    a Ctrl-C (SIGINT to the process group: the programs, in sessions of their own, do not
    get it, run.sh stops them in order)."""
    allinone = True


class RunShCrashLoopTest(unittest.TestCase):
    def test_a_program_failing_at_start_is_restarted_with_backoff(self):
        stack = RunShStack()
        # The gateway's port taken: it exits at every start until the port is free.
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", stack.http_port))
        blocker.listen()
        try:
            stack.launch()
            def gateway():
                return [r for r in stack.restarts() if r["program"] == "hausbus-gateway"]
            restarts = stack.wait_for(gateway, START_TIMEOUT_S, until=lambda r: len(r) >= 5,
                                      what="five restarts of the gateway", interval=0.2)
        except BaseException:
            stack.print_logs()
            stack.stop_all()
            raise
        finally:
            blocker.close()
        try:
            # 0.5 s doubling up to 4 s: one start every 4 s at most, however fast it fails.
            self.assertEqual([r["delayMs"] for r in restarts[:5]],
                             [500, 1000, 2000, 4000, 4000])
            self.assertTrue(all(r["ended"].startswith("exit status ") for r in restarts),
                            restarts)
            stack.wait_healthy(RESTART_TIMEOUT_S)  # the port is free again: it comes up
        except BaseException:
            stack.print_logs()
            raise
        finally:
            problems = stack.stop_all()
        self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main()
