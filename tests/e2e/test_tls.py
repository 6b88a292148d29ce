# TLS: the saga with mosquitto on a TLS-only listener and the gateway on HTTPS, from a throwaway CA.
import http.client
import os
import shutil
import socket
import ssl
import tempfile
import unittest

from hausbus_harness import Stack, StackTestCase
from secure_stack import OPEN_GATEWAY_ENV, Subscriber, mqtt_pub, run_script

HANDSHAKE_TIMEOUT_S = 5.0


class TlsSagaTest(StackTestCase):
    """Broker: one listener, TLS only. Components and gateway: HAUSBUS_MQTT_CAFILE.
    Gateway: HTTPS only (HAUSBUS_HTTP_TLS_CERT). Clients trust only the test CA."""

    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="hausbus-pki-")
        try:
            run_script("gen-test-ca.sh", "--days", "1", cls.pki)
            cls.ca = os.path.join(cls.pki, "ca.crt")
            cls.context = ssl.create_default_context(cafile=cls.ca)
            env = dict(OPEN_GATEWAY_ENV, HAUSBUS_MQTT_CAFILE=cls.ca,
                       HAUSBUS_HTTP_TLS_CERT=os.path.join(cls.pki, "server.pem"))
            # Listener options: they apply to the harness's one listener, which is then TLS.
            tls_listener = [
                "cafile " + cls.ca,
                "certfile " + os.path.join(cls.pki, "server.crt"),
                "keyfile " + os.path.join(cls.pki, "server.key"),
                "tls_version tlsv1.2",
            ]
            cls.stack = Stack(env=env, broker_conf_extra=tls_listener,
                              ssl_context=cls.context).__enter__()
        except BaseException:
            shutil.rmtree(cls.pki, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.pki, ignore_errors=True)

    def test_order_is_paid_over_https_and_mqtts(self):
        health = self.stack.get("/healthz")
        self.assertEqual(health["broker"], "connected")
        product = self.create_product("tls bed", 2, 900)
        order_id = self.place(product, 1, 32001)
        self.assertEqual(self.wait_order(order_id, "PAID")["amount"], 900)
        self.wait_delivery(order_id, "RECEIVED")
        self.assertEqual([p["status"] for p in self.payments(order_id)], ["APPROVED"])

    def test_gateway_refuses_plain_http(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.http_port,
                                          timeout=HANDSHAKE_TIMEOUT_S)
        try:
            with self.assertRaises((OSError, http.client.HTTPException)):
                conn.request("GET", "/healthz")
                conn.getresponse().read()
        finally:
            conn.close()

    def test_gateway_certificate_is_checked(self):
        # The system's trust store does not know the test CA.
        untrusting = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", self.stack.http_port),
                                      timeout=HANDSHAKE_TIMEOUT_S) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                untrusting.wrap_socket(raw, server_hostname="127.0.0.1").close()
        # With the CA, the certificate is valid for the name as well as the address.
        with socket.create_connection(("127.0.0.1", self.stack.http_port),
                                      timeout=HANDSHAKE_TIMEOUT_S) as raw:
            with self.context.wrap_socket(raw, server_hostname="localhost") as tls:
                self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))

    def test_broker_speaks_only_tls(self):
        port = self.stack.mqtt_port
        topic = "hausbus-probe/tls"
        plain = mqtt_pub(port, topic, "plain")
        self.assertNotEqual(plain.returncode, 0, "a plain MQTT client was let in")
        with Subscriber(port, topic, ["--cafile", self.ca]) as sub:
            secure = mqtt_pub(port, topic, "secure", tls=["--cafile", self.ca])
            self.assertEqual(secure.returncode, 0, secure.stderr)
            sub.wait(lambda m: [x for x in m if x["payload"] == "secure"])
        self.assertEqual([x for x in sub.messages() if x["payload"] == "plain"], [])


if __name__ == "__main__":
    unittest.main()
