# Every message of a full saga run carries the content type its topic promises, and every
# one labelled CloudEvents validates against the official CloudEvents 1.0 JSON schema.
import json
import os
import subprocess
import unittest

import jsonschema

from hausbus_harness import POSTGRES, StackTestCase, mqtt_pub

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(HERE, "..", "files", "cloudevents", "cloudevents.json")
CLOUDEVENTS = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
JSON = "application/json"
TEXT = "text/plain"
# docs/PROTOCOL.md, "Topics": the content type of each kind of topic under hausbus/v1/.
CONTENT_TYPE_OF_KIND = {
    "evt": CLOUDEVENTS,
    "cmd": CLOUDEVENTS,
    "reply": JSON,
    "dlq": JSON,
    "metrics": JSON,
    "status": TEXT,
}
MALFORMED = '{"specversion":"1.0","id":"x"'  # cut short: dead-lettered by the order component
BATCHED_ORDERS = 3  # placed in one batched command, so their OrderPlaced events go out packed


def media_type(content_type):
    """"application/json; charset=utf-8" -> "application/json"; None stays None."""
    return content_type.split(";")[0].strip() if content_type else None


class CloudEventsTest(StackTestCase):

    captured = None  # the bus traffic of one full saga run, shared by the tests

    def saga_messages(self):
        """Every message on hausbus/# during one full saga run (run once per class), but
        the test's own malformed command."""
        cls = type(self)
        if cls.captured is None:
            with self.stack.subscribe("hausbus/#") as sub:
                self.run_full_saga()
                sub.wait(lambda ms: any(m["topic"].startswith("hausbus/v1/dlq/") for m in ms))
                sub.wait(lambda ms: any(m["topic"].startswith("hausbus/v1/metrics/")
                                        for m in ms))
                cls.captured = [m for m in sub.messages() if m["payload"] != MALFORMED]
        return cls.captured

    def run_full_saga(self):
        """Place, pay, confirm, start and complete one order, cancel another, have a third
        rejected, and dead-letter a malformed command."""
        product = self.create_product("Lamp Ranarp", 5, 2500)
        delivered = self.place(product, 1, 4201, "Lamp Ranarp")
        self.wait_order(delivered, "PAID")
        delivery_id = self.wait_delivery(delivered, "RECEIVED")["id"]
        for step in ("confirm", "start", "complete"):
            self.stack.post("/deliveries/%d/%s" % (delivery_id, step), expect=200)
        self.wait_order(delivered, "DELIVERED")

        cancelled = self.place(product, 1, 4202, "Lamp Ranarp")
        self.wait_order(cancelled, "PAID")
        self.stack.post("/orders/%d/cancel" % cancelled, expect=202)
        self.wait_order(cancelled, "CANCELLED")

        rejected = self.place(product, 50, 4203, "Lamp Ranarp")  # more than in stock
        self.wait_order(rejected, "REJECTED")
        self.place_batch(product)
        mqtt_pub(self.stack.mqtt_port, "hausbus/v1/cmd/order/place", MALFORMED)
        self.settle()

    def place_batch(self, product):
        """Places BATCHED_ORDERS orders with one batched command (as a coalescing gateway
        sends it, without a reply topic): one transaction, so their OrderPlaced events wait
        in the outbox together and go out as one batch."""
        commands = [{"specversion": "1.0", "id": "batch-%d" % i, "source": "/test",
                     "type": "order.place", "datacontenttype": "application/json",
                     "data": {"productId": product, "qty": 1, "userId": 4210 + i}}
                    for i in range(BATCHED_ORDERS)]
        subprocess.run(["mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p",
                        str(self.stack.mqtt_port), "-q", "1", "-t", "hausbus/v1/cmd/order/place",
                        "-D", "publish", "content-type", BATCH + "; charset=utf-8",
                        "-m", json.dumps(commands)], check=True, timeout=10)

    @unittest.skipIf(POSTGRES, "replicas on a shared database send one event per message")
    def test_batches_carry_the_batch_content_type_and_every_event_in_them_validates(self):
        # Events only: the test's own batched command (place_batch) is on cmd/.
        batched = [m for m in self.saga_messages()
                   if "batch" in m and m["topic"].startswith("hausbus/v1/evt/")]
        if os.environ.get("HAUSBUS_BUS_BATCH") == "1":
            self.assertEqual(batched, [])  # batching off: everything goes alone
            return
        self.assertTrue(any(m["topic"] == "hausbus/v1/evt/order/OrderPlaced" and
                            m["batch"] >= 2 for m in batched), batched)
        for msg in batched:
            self.assertEqual(media_type(msg["properties"].get("content-type")), BATCH, msg)
            self.assertIn(msg["topic"].split("/")[2], ("evt", "cmd"), msg)

    def test_every_message_of_a_saga_has_its_content_type_and_events_validate(self):
        with open(SCHEMA_PATH) as f:
            schema = json.load(f)
        validator = jsonschema.Draft7Validator(
            schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        seen = {kind: 0 for kind in CONTENT_TYPE_OF_KIND}
        events = []
        for msg in self.saga_messages():
            kind = msg["topic"].split("/")[2]
            self.assertIn(kind, CONTENT_TYPE_OF_KIND, msg)
            content_type = media_type(msg["properties"].get("content-type"))
            if content_type == BATCH and "batch" in msg:
                content_type = CLOUDEVENTS  # one event of a batch (the harness unpacks them)
            self.assertEqual(content_type, CONTENT_TYPE_OF_KIND[kind], msg)
            seen[kind] += 1
            if content_type == CLOUDEVENTS:
                event = json.loads(msg["payload"])
                errors = [e.message for e in validator.iter_errors(event)]
                self.assertEqual(errors, [], msg)
                events.append(event)
            elif content_type == JSON:
                json.loads(msg["payload"])
            else:
                self.assertIn(msg["payload"], ("online", "offline"), msg)
        self.assertEqual([k for k, n in seen.items() if n == 0], [], seen)
        types = {e["type"] for e in events}
        for expected in ("OrderPlaced", "DeliveryCompleted", "OrderCancelled", "OrderRejected"):
            self.assertIn(expected, types)
        # An event with an order has it as subject; one without has no subject at all.
        self.assertTrue(any("subject" in e for e in events))
        self.assertTrue(any("subject" not in e for e in events), types)

    def test_every_cloudevent_of_a_saga_parses_strictly_with_the_sdk(self):
        """The same events through the CloudEvents JavaScript SDK's strict parse (npm
        cloudevents, fetched once into a cache by get-cloudevents.sh)."""
        fetch = subprocess.run(["sh", os.path.join(HERE, "get-cloudevents.sh")],
                               capture_output=True, text=True, timeout=300)
        if fetch.returncode != 0:
            self.skipTest("no CloudEvents SDK: " + fetch.stderr.strip()[-300:])
        events = [m["payload"] for m in self.saga_messages()
                  if media_type(m["properties"].get("content-type")) in (CLOUDEVENTS, BATCH)]
        self.assertTrue(events)
        parsed = subprocess.run(["node", os.path.join(HERE, "cloudevents_strict.js")],
                                input="\n".join(events), capture_output=True, text=True,
                                timeout=60, check=True,
                                env=dict(os.environ, NODE_PATH=os.path.join(
                                    fetch.stdout.strip(), "node_modules")))
        verdicts = [json.loads(line) for line in parsed.stdout.splitlines()]
        self.assertEqual(len(verdicts), len(events))
        self.assertEqual([(e, v) for e, v in zip(events, verdicts) if v is not None], [])


if __name__ == "__main__":
    unittest.main()
