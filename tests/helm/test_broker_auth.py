"""Broker credentials in the chart (mosquitto.auth.existingSecret): each process mounts only
its own password, the broker only the hashes and the ACL; and a Secret made the way
helm/hausbus/README.md says, from broker/gen-credentials.sh, really lets every process log in
to a real mosquitto running the chart's configuration, and nobody else."""
import base64
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import helmlib

SECRET = "hb-mqtt"
USERS = helmlib.COMPONENTS + ("gateway",)
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def secret_volumes(workload):
    """{mount path: [(key, file name)]} of the workload's secret volumes in SECRET."""
    pod = workload["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0].get("volumeMounts", [])}
    found = {}
    for v in pod.get("volumes", []):
        if v.get("secret", {}).get("secretName") == SECRET:
            found[mounts[v["name"]]] = [(i["key"], i["path"]) for i in v["secret"]["items"]]
    return found


class BrokerAuth(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.objs = helmlib.render(sets=["mosquitto.auth.existingSecret=" + SECRET])

    def workload(self, name):
        return [w for w in helmlib.workloads(self.objs)
                if w["metadata"]["name"] == "%s-hausbus-%s" % (helmlib.RELEASE, name)][0]

    def test_each_process_mounts_only_its_own_password(self):
        for user in USERS:
            env = helmlib.one(self.objs, "ConfigMap", user)["data"]
            self.assertEqual(env["HAUSBUS_MQTT_USERNAME"], user)
            volumes = secret_volumes(self.workload(user))
            self.assertEqual(len(volumes), 1, user)
            (mount, items), = volumes.items()
            self.assertEqual(items, [(user + ".password", "password")])
            self.assertEqual(env["HAUSBUS_MQTT_PASSWORD_FILE"], mount + "/password")

    def test_the_broker_mounts_hashes_and_acl_and_refuses_anonymous_clients(self):
        volumes = secret_volumes(self.workload("mosquitto"))
        (mount, items), = volumes.items()
        self.assertEqual(sorted(items), [("acl", "acl"), ("passwd", "passwd")])
        conf = helmlib.one(self.objs, "ConfigMap", "mosquitto")["data"]["mosquitto.conf"]
        self.assertIn("\nallow_anonymous false\n", conf)
        self.assertIn("\npassword_file %s/passwd\n" % mount, conf)
        self.assertIn("\nacl_file %s/acl\n" % mount, conf)
        self.assertNotIn("allow_anonymous true", conf)

    def test_without_the_secret_nothing_changes(self):
        objs = helmlib.render()
        for user in USERS:
            self.assertNotIn("HAUSBUS_MQTT_USERNAME",
                             helmlib.one(objs, "ConfigMap", user)["data"])
        conf = helmlib.one(objs, "ConfigMap", "mosquitto")["data"]["mosquitto.conf"]
        self.assertIn("\nallow_anonymous true\n", conf)

    def test_a_secret_from_gen_credentials_lets_exactly_the_processes_in(self):
        if not os.path.exists(MOSQUITTO) or shutil.which("mosquitto_pub") is None:
            self.skipTest("needs mosquitto and mosquitto_pub")
        tmp = tempfile.mkdtemp(prefix="hausbus-helm-auth-")
        broker = None
        try:
            creds = os.path.join(tmp, "creds")
            subprocess.run([os.path.join(helmlib.ROOT, "broker", "gen-credentials.sh"), creds],
                           check=True, capture_output=True, timeout=60)
            # The command helm/hausbus/README.md gives, offline.
            secret = json.loads(helmlib.run(
                "kubectl", "create", "secret", "generic", SECRET, "--dry-run=client",
                "-o", "json", "--from-file=%s/secrets/" % creds,
                "--from-file=%s/mosquitto/passwd" % creds,
                "--from-file=%s/mosquitto/acl" % creds).stdout)
            root = os.path.join(tmp, "pods")

            def materialize(name):
                """Writes the workload's secret items under root as the kubelet would."""
                for mount, items in secret_volumes(self.workload(name)).items():
                    os.makedirs(root + mount, exist_ok=True)
                    for key, path in items:
                        with open(os.path.join(root + mount, path), "wb") as f:
                            f.write(base64.b64decode(secret["data"][key]))
            port = free_port()
            materialize("mosquitto")
            conf = helmlib.one(self.objs, "ConfigMap", "mosquitto")["data"]["mosquitto.conf"]
            conf = re.sub(r"(?m)^(password_file|acl_file) /", r"\1 " + root + "/", conf)
            conf = re.sub(r"(?m)^listener \d+.*$", "listener %d 127.0.0.1" % port, conf)
            conf = re.sub(r"(?m)^persistence_location .*$",
                          "persistence_location %s/" % tmp, conf)
            conf += "\nuser %s\n" % pwd.getpwuid(os.getuid()).pw_name
            conf_path = os.path.join(tmp, "mosquitto.conf")
            with open(conf_path, "w") as f:
                f.write(conf)
            broker = subprocess.Popen([MOSQUITTO, "-c", conf_path], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    self.assertLess(time.monotonic(), deadline, "mosquitto did not start")
                    time.sleep(0.05)

            def publish(user, password):
                argv = ["mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(port),
                        "-q", "1", "-t", "hausbus/v1/status/%s" % user, "-m", "online"]
                if user is not None:
                    argv += ["-u", user, "-P", password]
                return subprocess.run(argv, capture_output=True, text=True, timeout=10)

            passwords = {}
            for user in USERS:
                materialize(user)
                env = helmlib.one(self.objs, "ConfigMap", user)["data"]
                with open(root + env["HAUSBUS_MQTT_PASSWORD_FILE"]) as f:
                    passwords[user] = f.read().strip()
                res = publish(env["HAUSBUS_MQTT_USERNAME"], passwords[user])
                self.assertEqual(res.returncode, 0, "%s: %s" % (user, res.stderr))
            self.assertNotEqual(publish(None, None).returncode, 0, "anonymous got in")
            self.assertNotEqual(publish("order", passwords["product"]).returncode, 0,
                                "order got in with product's password")
        finally:
            if broker is not None:
                broker.send_signal(signal.SIGTERM)
                try:
                    broker.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    broker.kill()
                    broker.wait()
                broker.stderr.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
