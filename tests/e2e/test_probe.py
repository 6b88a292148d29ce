# The --probe mode Kubernetes uses: a running component passes, a hung or cut-off one fails.
import os
import signal
import subprocess

from hausbus_harness import StackTestCase, bin_dir


class ProbeTest(StackTestCase):

    def probe(self, name):
        env = dict(self.stack.env, HAUSBUS_PROBE_MAX_AGE_MS="1500")
        proc = subprocess.run([os.path.join(bin_dir(), "hausbus-" + name), "--probe"], env=env,
                              capture_output=True, text=True, timeout=10)
        return proc.returncode, proc.stdout.strip()

    def wait_probe(self, name, code, timeout=10.0):
        return self.stack.wait_for(lambda: self.probe(name), timeout,
                                   until=lambda answer: answer[0] == code,
                                   what="%s --probe to exit %d" % (name, code))

    def test_running_components_pass(self):
        for name in ("order", "product", "payment", "delivery", "notification", "view"):
            code, text = self.wait_probe(name, 0)
            self.assertIn("ok", text)

    def test_hung_loop_fails_until_it_runs_again(self):
        self.wait_probe("payment", 0)
        pid = self.stack.pid("payment")
        os.kill(pid, signal.SIGSTOP)  # the loop stops: no more heartbeats
        try:
            code, text = self.wait_probe("payment", 1, timeout=5.0)
            self.assertIn("loop stuck", text)
        finally:
            os.kill(pid, signal.SIGCONT)
        self.wait_probe("payment", 0)

    def test_lost_broker_fails_the_probe(self):
        self.wait_probe("view", 0)
        self.stack.stop_broker()
        try:
            code, text = self.wait_probe("view", 1, timeout=8.0)
            self.assertIn("broker", text)
        finally:
            self.stack.start_broker()
        self.wait_probe("view", 0, timeout=15.0)
