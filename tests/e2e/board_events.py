# A client of the gateway's live board stream (GET /board/events) for the tests (stdlib only).
"""Reads the server-sent events of GET /board/events and folds them like the page does:
a "snapshot" replaces the state, an "update" replaces the parts it carries.

    with BoardStream(stack.http_port) as board:
        board.wait(lambda s: any(o["orderId"] == 7 for o in s["orders"]), 10.0)
"""
import datetime
import http.client
import json
import subprocess
import time


class BoardStream:
    def __init__(self, port, path="/board/events", headers=None, timeout=10.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.conn.request("GET", path, headers=dict(headers or {}))
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}
        self.state = {"components": [], "orders": [], "edges": []}
        self.events = []  # (name, data) in arrival order; comments are ("comment", text)
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        # The response holds its own reference to the socket: both must go for the
        # gateway to see the connection closed.
        self.response.close()
        self.conn.close()

    def body(self):
        """The whole answer of a refused request (not a stream)."""
        return self.response.read()

    def next_event(self):
        """Reads one event; returns (name, data), ("comment", text) for a comment line (a
        heartbeat), or None at the end of the stream. Raises
        socket.timeout when nothing arrives within the connection's timeout."""
        name, data = "message", []
        while True:
            line = self.response.readline()
            if not line:
                self.closed = True
                return None
            line = line.decode().rstrip("\r\n")
            if line == "":
                if data:
                    event = (name, json.loads("\n".join(data)))
                    self.events.append(event)
                    if name in ("snapshot", "update"):
                        self.state.update(event[1])
                    return event
                continue
            if line.startswith(":"):
                event = ("comment", line[1:].strip())
                self.events.append(event)
                return event
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())

    def wait(self, pred, timeout, what="the board state"):
        """Reads events until pred(state) holds; returns the state. Fails after timeout."""
        deadline = time.monotonic() + timeout
        while not pred(self.state):
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s; last state %r" % (what, self.state))
            if self.next_event() is None:
                raise AssertionError("the stream ended while waiting for %s" % what)
        return self.state


def component_status(state, name):
    for c in state["components"]:
        if c["name"] == name:
            return c["status"]
    return None


def order_status(state, order_id):
    for o in state["orders"]:
        if o["orderId"] == order_id:
            return o["status"]
    return None


def edge(state, source, target):
    for e in state["edges"]:
        if e["from"] == source and e["to"] == target:
            return e
    return None


def iso_now(offset_s=0.0):
    """Wall clock time as the metrics contract writes it: 2026-11-25T12:00:00.000Z."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def publish_metrics(mqtt_port, component, started_at, time_iso, handled, retain=True):
    """Publishes one metrics snapshot shaped as in the metrics contract (docs/OPERATIONS.md),
    as the component runtime does: QoS 0, retained."""
    payload = json.dumps({
        "component": component, "time": time_iso, "startedAt": started_at,
        "handled": handled, "published": {}, "deadLetters": 0, "handlerErrors": 0,
        "duplicates": 0, "outboxPending": 0})
    argv = ["mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(mqtt_port), "-q", "0",
            "-t", "hausbus/v1/metrics/" + component, "-m", payload]
    if retain:
        argv.append("-r")
    subprocess.run(argv, check=True, timeout=10, stdout=subprocess.DEVNULL)
