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
        return workload(self.objs, name)

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

    def test_open_mode_is_an_anonymous_broker_without_passwords(self):
        objs = helmlib.render(sets=["mosquitto.auth.enabled=false"])
        self.assertEqual([s["metadata"]["name"] for s in helmlib.find(objs, "Secret")],
                         ["hb-hausbus-auth"], "no MQTT passwords")
        for user in USERS:
            self.assertNotIn("HAUSBUS_MQTT_USERNAME",
                             helmlib.one(objs, "ConfigMap", user)["data"])
        conf = helmlib.one(objs, "ConfigMap", "mosquitto")["data"]["mosquitto.conf"]
        self.assertIn("\nallow_anonymous true\n", conf)

    def test_a_secret_from_gen_credentials_lets_exactly_the_processes_in(self):
        def secret_data(tmp):
            creds = os.path.join(tmp, "creds")
            subprocess.run([os.path.join(helmlib.ROOT, "broker", "gen-credentials.sh"), creds],
                           check=True, capture_output=True, timeout=60)
            # The command helm/hausbus/README.md gives, offline.
            return json.loads(helmlib.run(
                "kubectl", "create", "secret", "generic", SECRET, "--dry-run=client",
                "-o", "json", "--from-file=%s/secrets/" % creds,
                "--from-file=%s/mosquitto/passwd" % creds,
                "--from-file=%s/mosquitto/acl" % creds).stdout)["data"]
        check_broker_logins(self, self.objs, secret_data)


class GeneratedBrokerAuth(unittest.TestCase):
    """The secure default: no Secret given, the chart generates the passwords and the
    broker's initContainer hashes them."""

    @classmethod
    def setUpClass(cls):
        cls.objs = helmlib.render()

    def test_the_chart_generates_one_random_password_per_process(self):
        secret = helmlib.one(helmlib.render(), "Secret", "mqtt")
        again = helmlib.one(self.objs, "Secret", "mqtt")
        self.assertEqual(sorted(secret["data"]), sorted(u + ".password" for u in USERS))
        passwords = [base64.b64decode(v).decode() for v in secret["data"].values()]
        for password in passwords:
            self.assertRegex(password, r"^[A-Za-z0-9]{48}$")
        self.assertEqual(len(set(passwords)), len(USERS))
        # Without a cluster lookup finds nothing, so every rendering draws new ones.
        self.assertNotEqual(secret["data"], again["data"])

    def test_each_process_mounts_only_its_own_generated_password(self):
        for user in USERS:
            pod = workload(self.objs, user)["spec"]["template"]["spec"]
            secrets = [v["secret"] for v in pod["volumes"] if "secret" in v
                       and v["secret"]["secretName"] == "hb-hausbus-mqtt"]
            self.assertEqual([s["items"] for s in secrets],
                             [[{"key": user + ".password", "path": "password"}]], user)

    def test_only_the_brokers_init_container_sees_the_plain_passwords(self):
        pod = workload(self.objs, "mosquitto")["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(volumes["users"]["secret"], {"secretName": "hb-hausbus-mqtt",
                                                      "defaultMode": 0o400})
        self.assertEqual(volumes["auth"]["emptyDir"], {"medium": "Memory"})
        init, = pod["initContainers"]
        self.assertIn("users", {m["name"] for m in init["volumeMounts"]})
        broker, = pod["containers"]
        self.assertNotIn("users", {m["name"] for m in broker["volumeMounts"]})
        self.assertEqual(init["securityContext"], broker["securityContext"])

    def test_the_charts_acl_is_the_one_gen_credentials_makes(self):
        tmp = tempfile.mkdtemp(prefix="hausbus-helm-acl-")
        try:
            subprocess.run([os.path.join(helmlib.ROOT, "broker", "gen-credentials.sh"),
                            os.path.join(tmp, "c")], check=True, capture_output=True,
                           timeout=60)
            with open(os.path.join(tmp, "c", "mosquitto", "acl")) as f:
                generated = f.read()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        acl = helmlib.one(self.objs, "ConfigMap", "mosquitto")["data"]["acl"]
        self.assertEqual(acl, generated, "refresh it: broker/gen-credentials.sh DIR && "
                         "cp DIR/mosquitto/acl helm/hausbus/files/mosquitto.acl")

    def test_generated_passwords_let_exactly_the_processes_in(self):
        def secret_data(_):
            return helmlib.one(self.objs, "Secret", "mqtt")["data"]
        check_broker_logins(self, self.objs, secret_data)


def workload(objs, name):
    return [w for w in helmlib.workloads(objs)
            if w["metadata"]["name"] == "%s-hausbus-%s" % (helmlib.RELEASE, name)][0]


def check_broker_logins(test, objs, secret_data):
    """Lays out the Secret (secret_data(tmp): its base64 data) as the kubelet would mount it
    into each pod, runs the broker's initContainer if it has one, starts a real mosquitto
    with the chart's configuration and checks that every process logs in with its mounted
    password and nobody else does, and that the gateway cannot send an invented command."""
    if not os.path.exists(MOSQUITTO) or shutil.which("mosquitto_pub") is None:
        test.skipTest("needs mosquitto and mosquitto_pub")
    tmp = tempfile.mkdtemp(prefix="hausbus-helm-auth-")
    broker = None
    try:
        data = secret_data(tmp)
        root = os.path.join(tmp, "pods")

        def materialize(name):
            """Writes the workload's secret and configMap volumes under root."""
            pod = workload(objs, name)["spec"]["template"]["spec"]
            mounts = {}
            for c in pod.get("initContainers", []) + pod["containers"]:
                mounts.update({m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])})
            for v in pod["volumes"]:
                if v["name"] not in mounts:
                    continue
                path = root + mounts[v["name"]]
                os.makedirs(path, exist_ok=True)
                if "secret" in v:
                    if v["secret"]["secretName"] not in (SECRET, "hb-hausbus-mqtt"):
                        continue
                    items = v["secret"].get("items") or [{"key": k, "path": k} for k in data]
                    for item in items:
                        with open(os.path.join(path, item["path"]), "wb") as f:
                            f.write(base64.b64decode(data[item["key"]]))
                elif "configMap" in v:
                    cm = helmlib.one(objs, "ConfigMap", name)["data"]
                    for key, value in cm.items():
                        with open(os.path.join(path, key), "w") as f:
                            f.write(value)
            return pod
        pod = materialize("mosquitto")
        for init in pod.get("initContainers", []):
            script = init["command"][-1]
            for m in init["volumeMounts"]:
                if m["mountPath"] != "/tmp":  # scratch space: the machine's own /tmp
                    script = script.replace(m["mountPath"], root + m["mountPath"])
            res = subprocess.run(init["command"][:-1] + [script], capture_output=True,
                                 text=True, timeout=60)
            test.assertEqual(res.returncode, 0, res.stderr)
        port = free_port()
        conf = helmlib.one(objs, "ConfigMap", "mosquitto")["data"]["mosquitto.conf"]
        conf = re.sub(r"(?m)^(password_file|acl_file) /", r"\1 " + root + "/", conf)
        conf = re.sub(r"(?m)^listener \d+.*$", "listener %d 127.0.0.1" % port, conf)
        conf = re.sub(r"(?m)^persistence_location .*$", "persistence_location %s/" % tmp, conf)
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
                test.assertLess(time.monotonic(), deadline, "mosquitto did not start")
                time.sleep(0.05)

        def publish(user, password, topic=None):
            argv = ["mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(port),
                    "-q", "1", "-t", topic or "hausbus/v1/status/%s" % user, "-m", "online"]
            if user is not None:
                argv += ["-u", user, "-P", password]
            return subprocess.run(argv, capture_output=True, text=True, timeout=10)

        passwords = {}
        for user in USERS:
            materialize(user)
            env = helmlib.one(objs, "ConfigMap", user)["data"]
            with open(root + env["HAUSBUS_MQTT_PASSWORD_FILE"]) as f:
                passwords[user] = f.read().strip()
            res = publish(env["HAUSBUS_MQTT_USERNAME"], passwords[user])
            test.assertEqual((res.returncode, res.stderr), (0, ""), user)
        test.assertNotEqual(publish(None, None).returncode, 0, "anonymous got in")
        test.assertNotEqual(publish("order", passwords["product"]).returncode, 0,
                            "order got in with product's password")
        invented = publish("gateway", passwords["gateway"], "hausbus/v1/cmd/anything/at/all")
        test.assertIn("Not authorized", invented.stderr)
        real = publish("gateway", passwords["gateway"], "hausbus/v1/cmd/order/place")
        test.assertEqual((real.returncode, real.stderr), (0, ""))
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
