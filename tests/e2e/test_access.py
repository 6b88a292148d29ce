# Broker access control: generated credentials and ACL, the saga under them, and what they refuse.
import json
import os
import re
import shutil
import stat
import tempfile
import unittest
import uuid

from board_events import BoardStream, order_status
from hausbus_harness import COMPONENTS, PROCESSES, Stack, StackTestCase
from secure_stack import (OPEN_GATEWAY_ENV, REPO, Credentials, Subscriber, log_lines, mqtt_pub,
                          run_script)

PREFIX = "hausbus/v1/"
ACL_TABLE = os.path.join(REPO, "broker", "acl.table")
NOT_AUTHORIZED = "Not authorized"  # mosquitto_pub's words for reason code 0x87


def read_table():
    """broker/acl.table as a list of (user, access, absolute topic filter)."""
    grants = []
    with open(ACL_TABLE) as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            user, access, topic = fields
            grants.append((user, access, topic if topic.startswith("hausbus/") else PREFIX + topic))
    return grants


def route_topics(component):
    """The topic filters in the route table of components/<name>/src/handlers.c."""
    with open(os.path.join(REPO, "components", component, "src", "handlers.c")) as f:
        source = f.read()
    block = re.search(r"struct hb_route \w+\[\] = \{(.*?)\n\};", source, re.S)
    assert block, "no route table in %s/src/handlers.c" % component
    topics = []
    entries = re.findall(r"^\s*\{(.*)\},\s*$", block.group(1), re.M)
    for entry in entries:
        m = (re.match(r'\s*(?:HB_EVT_TOPIC|EVT)\(\s*"(\w+)",\s*"(\w+)"\)', entry)
             or re.match(r'\s*HB_CMD_TOPIC\(\s*"(\w+)",\s*"(\w+)"\)', entry))
        if m:
            kind = "evt" if "EVT" in entry.split("(")[0] else "cmd"
            topics.append("%s%s/%s/%s" % (PREFIX, kind, m.group(1), m.group(2)))
            continue
        m = re.match(r'\s*CMD\(\s*"(\w+)"\)', entry)
        if m:
            topics.append("%scmd/%s/%s" % (PREFIX, component, m.group(1)))
            continue
        m = re.match(r'\s*HB_TOPIC_PREFIX\s*"([^"]+)"', entry)
        assert m, "cannot read route %r of %s" % (entry, component)
        topics.append(PREFIX + m.group(1))
    return topics


def gateway_route_commands():
    """hausbus/v1/cmd/<component>/<command> of every route in gateway/src/routes.c's
    route_table that is sent to a component (its COMMAND rows; LOCAL rows name neither)."""
    with open(os.path.join(REPO, "gateway", "src", "routes.c")) as f:
        source = f.read()
    block = re.search(r"route_table\[\] = \{(.*?)\n\};", source, re.S)
    assert block, "no route_table in gateway/src/routes.c"
    entries = re.findall(r'COMMAND\("[A-Z]+",\s*"[^"]*",\s*"(\w+)",\s*"(\w+)",', block.group(1))
    assert len(entries) > 10, "cannot read the gateway's route table"
    return {"%scmd/%s/%s" % (PREFIX, component, command) for component, command in entries}


def topic_matches(pattern, topic):
    """MQTT filter matching, as mosquitto applies a read grant to a message topic."""
    p, t = pattern.split("/"), topic.split("/")
    for i, level in enumerate(p):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(p) == len(t)


def architecture_topic_map():
    """(event topic, set of subscribing components) from docs/ARCHITECTURE.md's topic map."""
    rows = []
    with open(os.path.join(REPO, "docs", "ARCHITECTURE.md")) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 3 or not cells[0].startswith("`evt/"):
                continue
            names = re.findall(r"`([^`]+)`", cells[0])
            base = names[0].rsplit("/", 1)[0]
            subscribers = {s.strip() for s in cells[2].split(",") if s.strip() in COMPONENTS}
            for name in names:
                rows.append((PREFIX + (name if "/" in name else base + "/" + name), subscribers))
    return rows


class AccessTableTest(unittest.TestCase):
    """The ACL table against the code and the docs, and the files the script writes."""

    def test_read_grants_are_exactly_each_components_subscriptions(self):
        grants = read_table()
        for component in COMPONENTS:
            with self.subTest(component=component):
                routes = route_topics(component)
                commands = {t for t in routes if t.startswith(PREFIX + "cmd/")}
                events = {t for t in routes if not t.startswith(PREFIX + "cmd/")}
                # Commands are covered by the script's cmd/<own>/# grant.
                self.assertTrue(all(t.startswith("%scmd/%s/" % (PREFIX, component))
                                    for t in commands), commands)
                reads = {t for u, a, t in grants if u == component and a == "read"}
                self.assertEqual(reads, events)
                self.assertEqual({t for u, a, t in grants if u == component and a == "write"},
                                 set(), "component writes come from the script, not the table")

    def test_the_gateway_writes_exactly_the_commands_of_its_route_table(self):
        commands = gateway_route_commands()
        self.assertIn(PREFIX + "cmd/order/place", commands)
        writes = {t for u, a, t in read_table() if u == "gateway" and a == "write"}
        self.assertEqual({t for t in writes if t.startswith(PREFIX + "cmd/")}, commands,
                         "no wildcard, no command the gateway never sends")
        self.assertEqual(writes - commands, {PREFIX + "status/gateway"})

    def test_read_grants_follow_the_architecture_topic_map(self):
        grants = read_table()
        topic_map = architecture_topic_map()
        self.assertGreater(len(topic_map), 20, "the topic map was not found")
        for topic, subscribers in topic_map:
            for component in COMPONENTS:
                readable = any(topic_matches(t, topic) for u, a, t in grants
                               if u == component and a == "read")
                with self.subTest(topic=topic, component=component):
                    self.assertEqual(readable, component in subscribers)

    def test_generated_credentials_are_private_and_distinct(self):
        tmp = tempfile.mkdtemp(prefix="hausbus-creds-")
        self.addCleanup(shutil.rmtree, tmp, True)
        out = os.path.join(tmp, "out")
        creds = Credentials.generate(out, operator=False)
        users = list(PROCESSES)
        passwords = set()
        for user in users:
            env = creds.env_file(user)
            self.assertEqual(env["HAUSBUS_MQTT_USERNAME"], user)
            secret = env["HAUSBUS_MQTT_PASSWORD_FILE"]
            self.assertEqual(secret, os.path.join(out, "secrets", user + ".password"))
            self.assertEqual(stat.S_IMODE(os.stat(secret).st_mode), 0o600)
            self.assertRegex(creds.password(user), r"^[0-9a-f]{48}$")
            passwords.add(creds.password(user))
        self.assertEqual(len(passwords), len(users))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out, "secrets")).st_mode), 0o700)
        with open(os.path.join(out, "mosquitto", "passwd")) as f:
            hashed = dict(line.strip().split(":", 1) for line in f if line.strip())
        self.assertEqual(sorted(hashed), sorted(users), "no operator without --operator")
        for user, value in hashed.items():
            self.assertTrue(value.startswith("$7$"), "not a pbkdf2 hash for %s" % user)
            self.assertNotIn(creds.password(user), value)
        self.assertEqual(creds.broker_conf(), [
            "password_file %s/mosquitto/passwd" % out,
            "acl_file %s/mosquitto/acl" % out,
            "allow_anonymous false",
        ])
        with open(os.path.join(out, "mosquitto", "acl")) as f:
            acl = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
        self.assertTrue(acl[0].startswith("user "), "a grant before the first user line "
                        "would apply to anonymous clients")
        self.assertIn("topic write hausbus/v1/evt/payment/#", acl)

        # Existing credentials are kept unless --force, which rotates every password.
        before = creds.password("order")
        with self.assertRaisesRegex(AssertionError, "--force"):
            run_script("gen-credentials.sh", out)
        self.assertEqual(creds.password("order"), before)
        run_script("gen-credentials.sh", "--force", out)
        self.assertTrue(all(creds.password(u) not in passwords for u in users))


class SecureSagaTest(StackTestCase):
    """The whole stack with every process logged in as itself under the generated ACL."""

    stack_env = OPEN_GATEWAY_ENV

    @classmethod
    def setUpClass(cls):
        cls.creds_dir = tempfile.mkdtemp(prefix="hausbus-creds-")
        cls.creds = Credentials.generate(cls.creds_dir)
        try:
            cls.stack = Stack(env=cls.stack_env, broker_conf_extra=cls.creds.broker_conf(),
                              process_env=cls.creds.process_env()).__enter__()
        except BaseException:
            shutil.rmtree(cls.creds_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.creds_dir, ignore_errors=True)

    def pub(self, user, topic, payload, **kw):
        return mqtt_pub(self.stack.mqtt_port, topic, payload,
                        self.creds.login(user) if user else (), **kw)

    def subscribe(self, user, topics):
        return Subscriber(self.stack.mqtt_port, topics, self.creds.login(user))

    def assert_no_refusals(self):
        """No process had a publish refused (bus.c logs every PUBACK >= 0x80)."""
        for name in PROCESSES:
            self.assertEqual(log_lines(self.stack, name, "broker rejected publish"), [], name)
            self.assertEqual(log_lines(self.stack, name, "broker refused"), [], name)

    def test_anonymous_and_wrong_passwords_are_refused(self):
        anonymous = self.pub(None, PREFIX + "evt/order/OrderPaid", "{}")
        self.assertNotEqual(anonymous.returncode, 0)
        self.assertIn(NOT_AUTHORIZED, anonymous.stderr)
        wrong = mqtt_pub(self.stack.mqtt_port, PREFIX + "status/order", "offline",
                         ["-u", "order", "-P", self.creds.password("payment")])
        self.assertNotEqual(wrong.returncode, 0)
        self.assertIn(NOT_AUTHORIZED, wrong.stderr)
        with self.assertRaisesRegex(AssertionError, NOT_AUTHORIZED):
            Subscriber(self.stack.mqtt_port, "hausbus/#").close()

    def test_order_is_paid_delivered_and_notified_under_the_acl(self):
        product = self.create_product("acl sofa", 5, 700)
        order_id = self.place(product, 2, 31001, "acl sofa")
        self.assertEqual(self.wait_order(order_id, "PAID")["amount"], 1400)
        delivery = self.wait_delivery(order_id, "RECEIVED")
        for action, status in (("confirm", "PREPARING"), ("start", "SHIPPING"),
                               ("complete", "DELIVERED")):
            self.stack.post("/deliveries/%d/%s" % (delivery["id"], action), expect=200)
            self.wait_order(order_id, status)
        self.stack.wait_for(lambda: self.notifications(31001, order_id), 10,
                            what="a notification for order %d" % order_id)
        self.wait_mypage(31001, order_id, orderStatus="DELIVERED", paymentStatus="APPROVED",
                         deliveryStatus="DELIVERED", notified=True)
        self.assertEqual(self.stock(product), 3)
        self.assert_no_refusals()

    def test_the_gateway_reads_order_events_for_the_board_under_the_acl(self):
        product = self.create_product("acl board", 5, 10)
        with BoardStream(self.stack.http_port) as board:
            self.assertEqual(board.status, 200)
            order_id = self.place(product, 1, 31006)
            board.wait(lambda s: order_status(s, order_id) == "PAID", 10.0,
                       "order %d PAID on the board" % order_id)

    def test_paid_order_is_cancelled_under_the_acl(self):
        product = self.create_product("acl table", 4, 300)
        order_id = self.place(product, 3, 31002)
        self.wait_order(order_id, "PAID")
        self.wait_delivery(order_id, "RECEIVED")
        status, _, body = self.stack.request("POST", "/orders/%d/cancel" % order_id)
        self.assertEqual(status, 202, body)
        self.wait_order(order_id, "CANCELLED")
        self.assertEqual(self.stock(product), 4)
        self.assertEqual([p["status"] for p in self.payments(order_id)], ["REFUNDED"])
        self.assertEqual(self.deliveries(order_id)[0]["status"], "CANCELLED")
        self.wait_mypage(31002, order_id, orderStatus="CANCELLED", paymentStatus="REFUNDED",
                         deliveryStatus="CANCELLED")
        self.assert_no_refusals()

    def test_rejections_and_an_early_cancel_under_the_acl(self):
        product = self.create_product("acl lamp", 1, 20000000)  # over the payment limit
        declined = self.place(product, 1, 31003)
        self.assertEqual(self.wait_order(declined, "REJECTED")["reason"], "payment_declined")
        self.stack.wait_for(lambda: self.stock(product), 10, until=lambda s: s == 1,
                            what="stock released after the declined payment")
        out_of_stock = self.place(product, 2, 31003)
        self.assertEqual(self.wait_order(out_of_stock, "REJECTED")["reason"], "out_of_stock")
        cheap = self.create_product("acl stool", 2, 10)
        early = self.place(cheap, 1, 31003)
        self.stack.post("/orders/%d/cancel" % early, expect=202)
        self.wait_order(early, "CANCELLED")
        self.assertEqual(self.stock(cheap), 2)
        self.assert_no_refusals()

    def test_payment_cannot_publish_order_events(self):
        product = self.create_product("acl chair", 1, 100)
        with self.subscribe("operator", PREFIX + "evt/order/OrderPaid") as paid:
            real = self.place(product, 1, 31004)
            self.wait_order(real, "PAID")
            event = json.loads(paid.wait(
                lambda m: [x for x in m if json.loads(x["payload"])["subject"] == str(real)]
            )[0]["payload"])
        # A second order finds no stock: REJECTED, and it must never get a delivery.
        victim = self.place(product, 1, 31004)
        self.wait_order(victim, "REJECTED")
        event.update(id=str(uuid.uuid4()), subject=str(victim))
        event["data"].update(orderId=victim, id=victim)
        forged = json.dumps(event)
        topic = PREFIX + "evt/order/OrderPaid"

        with self.subscribe("operator", topic) as seen:
            # MQTT v5 QoS 1: the broker answers PUBACK "not authorized" (0x87).
            v5 = self.pub("payment", topic, forged)
            self.assertEqual(v5.returncode, 0, v5.stderr)
            self.assertIn(NOT_AUTHORIZED, v5.stderr)
            # MQTT v3.1.1 QoS 1 and v5 QoS 0 have no way to say no: dropped silently.
            for kw in ({"version": "mqttv311"}, {"qos": 0}):
                quiet = self.pub("payment", topic, forged, **kw)
                self.assertEqual((quiet.returncode, quiet.stderr), (0, ""), kw)
            # Anything the broker had let through is consumed once the barrier is.
            self.settle()
            seen.wait(lambda m: m)  # the barrier's own OrderPaid: the subscriber works
            subjects = [json.loads(m["payload"])["subject"] for m in seen.messages()]
            self.assertNotIn(str(victim), subjects)
        self.assertEqual(self.deliveries(victim), [])
        self.assertEqual(self.wait_order(victim, "REJECTED")["status"], "REJECTED")

        # Control: the same event from the order user is accepted and acted on, so it was
        # only the ACL that stopped it above.
        control = self.pub("order", topic, json.dumps(dict(event, id=str(uuid.uuid4()))))
        self.assertEqual((control.returncode, control.stderr), (0, ""))
        self.stack.wait_for(lambda: self.deliveries(victim), 10,
                            what="the control OrderPaid to create a delivery")

    def test_payment_reads_nothing_but_its_grants(self):
        grants = [t for u, a, t in read_table() if u == "payment" and a == "read"]
        grants.append(PREFIX + "cmd/payment/#")
        product = self.create_product("acl shelf", 3, 50)
        with self.subscribe("operator", "hausbus/#") as everything, \
                self.subscribe("payment", ["hausbus/#", PREFIX + "cmd/order/#"]) as payment:
            # mosquitto 2.0.11's acl_file grants every SUBSCRIBE and checks each message
            # against the read grants when it would deliver it.
            self.assertTrue(all(code < 0x80 or code == 0x87 for code in payment.granted))
            order_id = self.place(product, 1, 31005)
            self.wait_order(order_id, "PAID")
            self.stack.post("/orders/%d/cancel" % order_id, expect=202)
            self.wait_order(order_id, "CANCELLED")
            self.settle()
            everything.wait(lambda m: any(x["topic"] == PREFIX + "cmd/order/place" for x in m))
            payment.wait(lambda m: any(x["topic"].endswith("/OrderWithdrawn") for x in m))
            seen = {m["topic"] for m in payment.messages()}
        self.assertIn(PREFIX + "evt/product/StockReserved", seen)
        outside = [t for t in seen if not any(topic_matches(g, t) for g in grants)]
        self.assertEqual(outside, [], "payment read topics outside its grants")

    def test_the_gateway_login_sends_only_commands_that_exist(self):
        """A stolen gateway password cannot invent commands: an unknown cmd/... topic, or a
        real component command the gateway never sends (replay), is refused and reaches no
        subscriber, while a real route's command is delivered."""
        marker = "gateway-" + uuid.uuid4().hex
        invented = ["cmd/anything/at/all", "cmd/order/replay", "cmd/order/place/x"]
        with self.subscribe("operator", PREFIX + "cmd/#") as seen:
            for topic in invented:
                with self.subTest(topic=topic):
                    result = self.pub("gateway", PREFIX + topic, marker)
                    self.assertIn(NOT_AUTHORIZED, result.stderr)
            real = self.pub("gateway", PREFIX + "cmd/product/list", marker)
            self.assertEqual((real.returncode, real.stderr), (0, ""))
            seen.wait(lambda m: any(x["payload"] == marker for x in m))
            self.settle()
            delivered = [m["topic"] for m in seen.messages() if m["payload"] == marker]
        self.assertEqual(delivered, [PREFIX + "cmd/product/list"])

    def test_every_user_is_refused_outside_its_topics(self):
        refused = [
            ("order", "evt/payment/PaymentApproved"),
            ("product", "evt/order/OrderPlaced"),
            ("payment", "evt/delivery/DeliveryCreated"),
            ("delivery", "cmd/order/cancel"),
            ("notification", "dlq/order"),
            ("notification", "metrics/order"),  # only its own metrics/notification
            ("view", "cmd/order/place"),
            ("view", "status/order"),
            ("gateway", "evt/order/OrderPaid"),
            ("gateway", "status/order"),
            ("operator", "status/gateway"),
            ("operator", "cmd/order/get"),
        ]
        marker = "refused-" + uuid.uuid4().hex
        with self.subscribe("operator", "hausbus/#") as seen:
            for user, topic in refused:
                with self.subTest(user=user, topic=topic):
                    result = self.pub(user, PREFIX + topic, marker)
                    self.assertIn(NOT_AUTHORIZED, result.stderr)
            self.settle()
            leaked = [m for m in seen.messages() if m["payload"] == marker]
        self.assertEqual(leaked, [])


if __name__ == "__main__":
    unittest.main()
