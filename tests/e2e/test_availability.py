# End-to-end: a request for an offline component is answered 503 + Retry-After at once; /healthz and /readyz.
import os
import signal
import time
import unittest

from hausbus_harness import COMPONENTS, Stack, StackTestCase

# Long, so that an answer "well under the request timeout" cannot be a timeout.
REQUEST_TIMEOUT_MS = 8000
# An immediate answer, with room for a loaded machine (and for memcheck, which runs every
# process some 20 times slower): still far below the request timeout.
FAST_S = 4.0 if os.environ.get("HAUSBUS_VALGRIND") else 1.5
USER = 4242


class AvailabilityTest(StackTestCase):
    """Seven processes; one component at a time goes away and comes back."""

    stack_env = {"HAUSBUS_REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_MS)}
    stack_allinone = False  # stopping one component must leave the gateway running

    def timed(self, method, path):
        started = time.monotonic()
        answer = self.stack.request(method, path)
        return answer, time.monotonic() - started

    def assert_unavailable_at_once(self, path, component, state):
        (status, headers, body), elapsed = self.timed("GET", path)
        self.assertEqual(status, 503, body)
        self.assertEqual(headers.get("retry-after"), "5")
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(body, {"error": "%s component is %s, try again later" % (component, state)})
        self.assertLess(elapsed, FAST_S, "503 for %s took %.2f s" % (path, elapsed))

    def wait_missing(self, missing):
        """Waits until /healthz (200 all along) lists exactly missing; returns its body."""
        def probe():
            status, _, body = self.stack.request("GET", "/healthz")
            self.assertEqual(status, 200, body)
            return body
        return self.stack.wait_for(probe, until=lambda b: b.get("missing") == missing,
                                   what="/healthz missing %r" % (missing,))

    def assert_ready(self, ready, missing):
        status, headers, body = self.stack.request("GET", "/readyz")
        self.assertEqual(status, 200 if ready else 503, body)
        self.assertEqual(body, {"status": "ready" if ready else "not ready",
                                "broker": "connected", "missing": missing})
        if not ready:
            self.assertEqual(headers.get("retry-after"), "5")

    def test_everything_online_is_ready(self):
        self.assert_ready(True, [])
        status, _, body = self.stack.request("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(body["missing"], [])
        self.assertEqual({c: body["components"][c] for c in COMPONENTS},
                         {c: "online" for c in COMPONENTS})

    def test_sigterm_component_is_503_at_once_and_back_after_restart(self):
        self.stack.kill("product", signal.SIGTERM)  # says "offline" on its way out
        try:
            body = self.wait_missing(["product"])
            self.assertEqual(body["components"]["product"], "offline")
            self.assert_unavailable_at_once("/products", "product", "offline")
            self.assert_ready(False, ["product"])
        finally:
            self.stack.start("product")
        self.wait_missing([])
        self.assert_ready(True, [])
        status, _, _ = self.stack.request("GET", "/products")
        self.assertEqual(status, 200)

    def test_sigkill_component_is_503_after_its_will(self):
        self.stack.kill("payment", signal.SIGKILL)  # the broker sends its will: "offline"
        try:
            self.wait_missing(["payment"])
            self.assert_unavailable_at_once("/payments?orderId=1", "payment", "offline")
            self.assert_ready(False, ["payment"])
        finally:
            self.stack.start("payment")
        self.assert_ready(True, [])


class NeverStartedTest(unittest.TestCase):
    """A component that never came online since the gateway started."""

    def test_never_started_component_is_503_until_it_comes(self):
        stack = Stack(env={"HAUSBUS_REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_MS)}, allinone=False)
        try:
            stack._start_broker()
            for name in stack.process_names():
                if name != "view":
                    stack.start(name, wait=False)

            def probe():
                try:
                    return stack.request("GET", "/healthz", timeout=1.0)
                except OSError:  # not listening yet
                    return (None, {}, {})

            status, _, body = stack.wait_for(
                probe, until=lambda a: a[0] == 200 and a[2].get("missing") == ["view"],
                timeout=15.0,
                what="/healthz with only view missing")
            self.assertEqual(body["components"]["view"], "unknown")
            started = time.monotonic()
            status, headers, body = stack.request("GET", "/mypage/%d" % USER)
            self.assertLess(time.monotonic() - started, FAST_S)
            self.assertEqual((status, headers.get("retry-after")), (503, "5"), body)
            self.assertEqual(body, {"error": "view component is not online yet, try again later"})
            status, _, body = stack.request("GET", "/readyz")
            self.assertEqual((status, body["missing"]), (503, ["view"]))
            stack.start("view")
            status, _, body = stack.request("GET", "/readyz")
            self.assertEqual((status, body), (200, {"status": "ready", "broker": "connected",
                                                   "missing": []}))
            status, _, _ = stack.request("GET", "/mypage/%d" % USER)
            self.assertEqual(status, 200)
        except BaseException:
            stack.print_logs()
            raise
        finally:
            problems = stack.stop_all()
        self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main()
