# systemd Type=notify: a component and the gateway say READY=1, ping the watchdog while their
# loop runs (and only then), and say STOPPING=1 on SIGTERM, over a socket the test binds.
import os
import signal
import socket
import time
import unittest

from hausbus_harness import VALGRIND, Stack

WATCHDOG_USEC = 2000000  # pings every 1 s (half of it)
SLOW = 4 if VALGRIND else 1  # memcheck runs the processes many times slower


class NotifySocket:
    """What systemd listens on: a unix datagram socket in the stack's temp dir."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def receive(self, timeout):
        """The next datagram as text, or None when none came within timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except socket.timeout:
            return None

    def wait_for(self, state, timeout):
        """Reads datagrams until one equals state; returns the ones before it."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            msg = self.receive(max(left, 0.01)) if left > 0 else None
            if msg == state:
                return seen
            if msg is None:
                raise AssertionError("no %s within %.1fs; got %r" % (state, timeout, seen))
            seen.append(msg)

    def drain(self):
        while self.receive(0.01) is not None:
            pass

    def close(self):
        self.sock.close()


def process_state(pid):
    """The state letter of /proc/<pid>/stat: R, S, T (stopped), ..."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class SdNotifyTest(unittest.TestCase):

    def setUp(self):
        self.stack = Stack(allinone=False)
        self.notify = NotifySocket(self.stack.tmp)
        self.addCleanup(self.notify.close)
        env = {"NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
        self.stack.process_env = {"order": env, "gateway": env}
        self.stack.start_broker()

    def tearDown(self):
        problems = self.stack.stop_all()
        self.assertEqual(problems, [])

    def assert_pings(self, count):
        """count WATCHDOG=1 pings, each within the 2 s watchdog timeout of the one before."""
        for _ in range(count):
            self.assertEqual(self.notify.receive(WATCHDOG_USEC / 1e6 * SLOW), "WATCHDOG=1")

    def assert_stops_cleanly(self, name):
        self.stack.kill(name, signal.SIGTERM)
        self.notify.wait_for("STOPPING=1", 5 * SLOW)
        self.assertEqual(self.stack.procs[name].returncode, 0)

    def test_component_is_ready_pings_while_its_loop_runs_and_says_stopping(self):
        self.stack.start("order", wait=False)
        before = self.notify.wait_for("READY=1", 15 * SLOW)
        self.assertEqual([m for m in before if m != "WATCHDOG=1"], [])
        self.assert_pings(3)

        # A loop that cannot tick stops pinging: systemd would restart the process.
        pid = self.stack.pid("order")
        os.kill(pid, signal.SIGSTOP)
        try:
            self.stack.wait_for(lambda: process_state(pid), 5, until=lambda s: s == "T",
                                what="order to be stopped")
            self.notify.drain()
            self.assertIsNone(self.notify.receive(2.5), "a stopped loop pinged the watchdog")
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assert_pings(2)
        self.assert_stops_cleanly("order")

    def test_gateway_is_ready_pings_and_says_stopping(self):
        self.stack.start("gateway", wait=False)
        self.notify.wait_for("READY=1", 15 * SLOW)
        self.assert_pings(2)
        self.assert_stops_cleanly("gateway")


class AllInOneSdNotifyTest(unittest.TestCase):
    """The all-in-one speaks for all its loops from its main thread: one READY=1 and one
    STOPPING=1 (not one per thread), and pings only while every loop's heartbeat is fresh,
    so one hung thread gets the whole process restarted."""

    def setUp(self):
        self.stack = Stack(allinone=True,
                           env={"HAUSBUS_PROBE_MAX_AGE_MS": str(int(2500 * SLOW))})
        self.notify = NotifySocket(self.stack.tmp)
        self.addCleanup(self.notify.close)
        self.stack.process_env = {"hausbus": {"NOTIFY_SOCKET": self.notify.path,
                                              "WATCHDOG_USEC": str(WATCHDOG_USEC)}}
        self.stack.start_broker()

    def tearDown(self):
        problems = self.stack.stop_all()
        self.assertEqual(problems, [])

    def test_one_ready_pings_while_every_loop_ticks_and_one_stopping(self):
        self.stack.start("hausbus", wait=False)
        before = self.notify.wait_for("READY=1", 15 * SLOW)
        self.assertEqual([m for m in before if m != "WATCHDOG=1"], [])
        for _ in range(3):
            self.assertEqual(self.notify.receive(WATCHDOG_USEC / 1e6 * SLOW + 1), "WATCHDOG=1")

        # The order loop's heartbeat can no longer be refreshed (a directory is in its
        # place, so the rename fails): to the main thread that is a loop that stopped.
        heartbeat = os.path.join(self.stack.data_dir, "order.heartbeat")
        os.unlink(heartbeat)
        os.mkdir(heartbeat)
        time.sleep(2.5 * SLOW + 0.5)  # the last good beat ages past HAUSBUS_PROBE_MAX_AGE_MS
        self.notify.drain()
        self.assertIsNone(self.notify.receive(2.0 * SLOW),
                          "pinged the watchdog while a loop's heartbeat was stale")
        os.rmdir(heartbeat)
        self.assertEqual(self.notify.receive(3.0 * SLOW + 1), "WATCHDOG=1")

        self.stack.kill("hausbus", signal.SIGTERM)
        rest = self.notify.wait_for("STOPPING=1", 10 * SLOW)
        self.assertEqual([m for m in rest if m != "WATCHDOG=1"], [])
        self.assertIsNone(self.notify.receive(1.0), "a second STOPPING=1 or more")
        self.assertEqual(self.stack.procs["hausbus"].returncode, 0)


if __name__ == "__main__":
    unittest.main()
