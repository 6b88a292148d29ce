# A broker that refuses subscriptions: the process's log names each refused topic filter.
import os
import socket
import threading
import time
import unittest

from hausbus_harness import Stack

PREFIX = "hausbus/v1/"
# One of the gateway's reliable subscriptions (QoS 1, its second SUBSCRIBE) and its one
# feed (QoS 0, the live board's, its first SUBSCRIBE).
REFUSED = (PREFIX + "status/+", PREFIX + "evt/order/+")
NOT_AUTHORIZED = 0x87
LOG_WAIT_S = 15.0


def _read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _varint(conn):
    value, shift = 0, 0
    while True:
        byte = _read_exactly(conn, 1)[0]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7


def _decode_varint(data, at):
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


class RefusingBroker:
    """Just enough of an MQTT v5 broker for one client to connect, publish and subscribe:
    every SUBACK refuses (0x87) the filters in refused and grants the rest. Records the
    filters each SUBSCRIBE asked for."""

    def __init__(self, port, refused):
        self.refused = set(refused)
        self.subscribed = []  # the filters of each SUBSCRIBE, in order
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.listener.close()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(0.2)
                self._session(conn)

    def _session(self, conn):
        while not self.stopping:
            try:
                header = _read_exactly(conn, 1)[0]
            except socket.timeout:
                continue
            except (EOFError, OSError):
                return
            conn.settimeout(5)
            try:
                body = _read_exactly(conn, _varint(conn))
            except (EOFError, OSError):
                return
            conn.settimeout(0.2)
            kind = header >> 4
            if kind == 1:  # CONNECT: accepted, no properties
                conn.sendall(bytes([0x20, 3, 0, 0, 0]))
            elif kind == 3 and (header >> 1) & 3:  # PUBLISH at QoS 1: PUBACK
                topic_len = int.from_bytes(body[:2], "big")
                packet_id = body[2 + topic_len:4 + topic_len]
                conn.sendall(bytes([0x40, 2]) + packet_id)
            elif kind == 8:  # SUBSCRIBE
                conn.sendall(self._suback(body))
            elif kind == 12:  # PINGREQ
                conn.sendall(bytes([0xD0, 0]))
            elif kind == 14:  # DISCONNECT
                return

    def _suback(self, body):
        packet_id = body[:2]
        props_len, at = _decode_varint(body, 2)
        at += props_len
        filters, codes = [], []
        while at < len(body):
            n = int.from_bytes(body[at:at + 2], "big")
            name = body[at + 2:at + 2 + n].decode()
            options = body[at + 2 + n]
            at += 3 + n
            filters.append(name)
            codes.append(NOT_AUTHORIZED if name in self.refused else options & 3)
        self.subscribed.append(filters)
        payload = packet_id + bytes([0]) + bytes(codes)  # no properties
        return bytes([0x90, len(payload)]) + payload


class RefusedSubscriptionTest(unittest.TestCase):

    def test_the_log_names_each_refused_filter_of_both_subscribes(self):
        stack = Stack(allinone=False)  # one process, one MQTT connection
        broker = RefusingBroker(stack.mqtt_port, REFUSED)
        try:
            stack.start("gateway", wait=False)
            log = os.path.join(stack.tmp, "gateway.log")
            deadline = time.monotonic() + LOG_WAIT_S
            lines = []
            while time.monotonic() < deadline:
                with open(log, "rb") as f:
                    lines = [ln for ln in f.read().decode(errors="replace").splitlines()
                             if "refused the subscription" in ln]
                if len(lines) >= len(REFUSED):
                    break
                time.sleep(0.1)
            # The feed went first in a SUBSCRIBE of its own, then the reliable ones.
            self.assertEqual(len(broker.subscribed), 2, broker.subscribed)
            self.assertEqual(broker.subscribed[0], [PREFIX + "evt/order/+"])
            self.assertIn(PREFIX + "status/+", broker.subscribed[1])
            self.assertEqual(len(lines), len(REFUSED), lines)
            for topic in REFUSED:
                self.assertEqual(len([ln for ln in lines if topic in ln]), 1, (topic, lines))
            self.assertTrue(all("0x87" in ln for ln in lines), lines)
        except BaseException:
            stack.print_logs()
            raise
        finally:
            problems = stack.stop_all()
            broker.stop()
        self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main()
