# Oversize MQTT messages never reach a component: against broker/mosquitto.conf as shipped,
# a 10 MB message, and one just above a component's limit, leave every process's memory
# flat and the saga working; one just over 64 KiB is still dead-lettered.
import json
import os
import pwd
import re
import subprocess
import time

from hausbus_harness import VALGRIND, Stack, StackTestCase, _wait_port, mqtt_pub

SHIPPED_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "broker",
                            "mosquitto.conf")

BROKER_MAX = 1024 * 1024 + 16 * 1024     # max_packet_size in broker/mosquitto.conf
COMPONENT_MAX = 64 * 1024 + 16 * 1024    # Maximum Packet Size a component's CONNECT asks for
TOPIC = "hausbus/v1/cmd/order/place"
# A 10 MB message read whole grew a component by ~50 MB; memcheck's own bookkeeping grows more.
RSS_GROWTH_MAX_KB = (32 if VALGRIND else 8) * 1024


class ShippedBrokerStack(Stack):
    """A Stack whose broker runs broker/mosquitto.conf as ./run.sh does: only the port,
    the persistence dir, the log file and the user changed."""

    def _start_broker(self):
        with open(SHIPPED_CONF) as f:
            conf = f.read()
        for pattern, line in ((r"^listener 1883 ", "listener %d " % self.mqtt_port),
                              (r"^persistence_location .*$", "persistence_location %s/" % self.tmp),
                              (r"^log_dest .*$", "log_dest file %s"
                               % os.path.join(self.tmp, "mosquitto.log"))):
            conf = re.sub(pattern, line, conf, flags=re.M)
        path = os.path.join(self.tmp, "mosquitto.conf")
        with open(path, "w") as f:
            f.write(conf + "\nuser %s\n" % pwd.getpwuid(os.getuid()).pw_name)
        self._spawn("broker", ["mosquitto", "-c", path])
        if not _wait_port(self.mqtt_port, time.monotonic() + 5):
            raise AssertionError("mosquitto did not listen on %d" % self.mqtt_port)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def publish_raw(port, topic, size):
    """Publishes size bytes with mosquitto_pub; the broker may refuse it (disconnects)."""
    try:
        subprocess.run(["mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(port),
                        "-q", "1", "-t", topic, "-s"], input=b"x" * size, timeout=20,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pass


class PacketSizeTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        cls.stack = ShippedBrokerStack(allinone=cls.stack_allinone).__enter__()

    def pids(self):
        return {name: self.stack.pid(name) for name in self.stack.process_names()}

    def test_shipped_config_sets_the_limit(self):
        with open(SHIPPED_CONF) as f:
            self.assertRegex(f.read(), r"(?m)^max_packet_size %d$" % BROKER_MAX)

    def test_oversize_messages_never_reach_a_component(self):
        product = self.create_product("Table Lisabo", 10, 9900)
        self.wait_order(self.place(product, 1, 4301), "PAID")  # warm: caches, pages
        before = {name: rss_kb(pid) for name, pid in self.pids().items()}
        with self.stack.subscribe("hausbus/v1/dlq/#", qos=1) as letters:
            publish_raw(self.stack.mqtt_port, TOPIC, 10 * 1000 * 1000)   # the broker refuses
            publish_raw(self.stack.mqtt_port, TOPIC, BROKER_MAX + 1)     # the broker refuses
            publish_raw(self.stack.mqtt_port, TOPIC, COMPONENT_MAX + 1)  # not sent to order
            publish_raw(self.stack.mqtt_port, TOPIC, BROKER_MAX // 2)    # not sent to order
            # A bit over what a component takes, within what it may receive: dead-lettered.
            just_over = json.dumps({"pad": "x" * (64 * 1024 + 100)})
            mqtt_pub(self.stack.mqtt_port, TOPIC, just_over)
            letter = letters.wait(lambda ms: ms[0] if ms else None)
            self.settle()  # anything the broker had sent order is handled by now
            self.assertEqual(len(letters.messages()), 1,
                             [(m["topic"], len(m["payload"])) for m in letters.messages()])
        body = json.loads(letter["payload"])
        self.assertEqual((letter["topic"], body["topic"]), ("hausbus/v1/dlq/order", TOPIC))
        self.assertIn("64 KiB", body["reason"])

        after = {name: rss_kb(pid) for name, pid in self.pids().items()}
        for name in before:
            self.assertLess(after[name] - before[name], RSS_GROWTH_MAX_KB,
                            "%s grew from %d to %d kB" % (name, before[name], after[name]))
        for name, proc in self.stack.procs.items():
            self.assertIsNone(proc.poll(), "%s exited" % name)
        self.wait_order(self.place(product, 2, 4302), "PAID")
        self.assertEqual(self.stock(product), 7)
