# End-to-end: idle and slow HTTP clients cannot starve the gateway (default settings).
import http.client
import os
import socket
import subprocess
import time
import unittest

from hausbus_harness import LAUNCHER, VALGRIND, StackTestCase, TIMEOUT_SCALE, bin_dir, free_port

IDLE_CONNECTIONS = 200
# The gateway's default HAUSBUS_HTTP_RECEIVE_TIMEOUT_MS: the time a client gets to send
# its request headers, and again its body.
RECEIVE_TIMEOUT_S = 5.0
SLACK_S = (10.0 if VALGRIND else 1.5) * TIMEOUT_SCALE
PROBE_BUDGET_S = (10.0 if VALGRIND else 2.0) * TIMEOUT_SCALE
PARTIAL_HEADERS = b"GET /products HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
USER = 7301


class SlowlorisTest(StackTestCase):
    """One stack with the gateway's default HTTP settings (HAUSBUS_HTTP_THREADS and the
    receive timeout unset)."""

    def open_idle(self, count):
        """Opens count connections that start a request and never finish its headers."""
        socks = []
        try:
            for _ in range(count):
                s = socket.create_connection(("127.0.0.1", self.stack.http_port), timeout=5)
                s.sendall(PARTIAL_HEADERS)
                socks.append(s)
        except BaseException:
            for s in socks:
                s.close()
            raise
        return socks

    def timed_get(self, path):
        started = time.monotonic()
        status, _, body = self.stack.request("GET", path, timeout=30)
        return status, body, time.monotonic() - started

    def test_probes_and_orders_go_on_beside_200_idle_connections(self):
        product = self.create_product("Sofa Idle", 5, 100)
        socks = self.open_idle(IDLE_CONNECTIONS)
        try:
            time.sleep(0.5)  # every one of them has reached a worker by now
            for path in ("/healthz", "/readyz"):
                status, body, elapsed = self.timed_get(path)
                self.assertEqual(status, 200, body)
                self.assertLess(elapsed, PROBE_BUDGET_S, "%s took %.2f s" % (path, elapsed))
            self.wait_order(self.place(product, 1, USER), "PAID")
        finally:
            for s in socks:
                s.close()

    def test_unfinished_headers_are_cut_after_the_receive_timeout(self):
        (s,) = self.open_idle(1)
        with s:
            started = time.monotonic()
            s.settimeout(RECEIVE_TIMEOUT_S + SLACK_S + 5)
            try:
                while s.recv(4096):  # civetweb may say 400 before it closes
                    pass
            except ConnectionResetError:
                pass
            elapsed = time.monotonic() - started
        self.assertGreater(elapsed, RECEIVE_TIMEOUT_S - 0.5)
        self.assertLess(elapsed, RECEIVE_TIMEOUT_S + SLACK_S)

    def test_a_body_that_trickles_is_cut_with_408(self):
        body = b'{"productId": 1, "qty": 1, "userId": %d}' % USER
        s = socket.create_connection(("127.0.0.1", self.stack.http_port), timeout=5)
        with s:
            s.sendall(b"POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            started = time.monotonic()
            answer = b""
            s.settimeout(0.5)
            for byte in body:  # one byte every 0.5 s: never silent long, never done in time
                try:
                    s.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    break
                try:
                    chunk = s.recv(4096)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    break
                answer += chunk
                if not chunk or b"\r\n\r\n" in answer:
                    break
            elapsed = time.monotonic() - started
            s.settimeout(5)
            try:
                while b"\r\n\r\n" in answer and not answer.endswith(b"}"):
                    chunk = s.recv(4096)  # the body follows the headers; then the close
                    if not chunk:
                        break
                    answer += chunk
            except (socket.timeout, ConnectionResetError):
                pass
        self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer[:200])
        self.assertIn(b'{"error":', answer)
        self.assertLess(elapsed, RECEIVE_TIMEOUT_S + SLACK_S)

    def test_a_chunked_body_is_refused_with_411(self):
        # Its length is unknown up front and civetweb reads each chunk-size line a byte
        # at a time with a fresh timeout: it could not be bounded.
        body = b'{"productId": 1, "qty": 1, "userId": %d}' % USER
        with socket.create_connection(("127.0.0.1", self.stack.http_port), timeout=5) as s:
            s.sendall(b"POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            answer = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 411 "), answer[:200])
        self.assertIn(b"Content-Length", answer.split(b"\r\n\r\n", 1)[1])

    def test_a_keep_alive_client_is_served_on_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.http_port, timeout=10)
        try:
            first = None
            for _ in range(5):
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 200)
                first = first or conn.sock
                self.assertIs(conn.sock, first)  # not reconnected
                time.sleep(0.1)
        finally:
            conn.close()



class BadHttpSettingsTest(unittest.TestCase):
    def test_bad_thread_count_or_receive_timeout_exits_2_with_a_reason(self):
        for name, value in (("HAUSBUS_HTTP_RECEIVE_TIMEOUT_MS", "50"),
                            ("HAUSBUS_HTTP_RECEIVE_TIMEOUT_MS", "5s"),
                            ("HAUSBUS_HTTP_THREADS", "0")):
            env = dict(os.environ, HAUSBUS_AUTH="open", HAUSBUS_HTTP_PORT=str(free_port()),
                       HAUSBUS_MQTT_PORT=str(free_port()), **{name: value})
            done = subprocess.run(LAUNCHER + [os.path.join(bin_dir(), "hausbus-gateway")],
                                  env=env, capture_output=True, text=True,
                                  timeout=30 * TIMEOUT_SCALE, stdin=subprocess.DEVNULL)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn("%s must be an integer between" % name, done.stderr)


if __name__ == "__main__":
    unittest.main()
