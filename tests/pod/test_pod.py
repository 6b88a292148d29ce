# The container image in a pod: builds localhost/hausbus:<version> with scripts/build-image.sh,
# runs mosquitto, the six components and the gateway with `podman kube play` (host network,
# loopback ports chosen here, uid 10001, data on a hostPath directory), drives the saga
# through the gateway, runs a component's exec probe, and always ends with `podman kube down`.
# Needs root (podman builds and runs as root on this machine) and Debian's apt mirrors once.
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMPONENTS = ["order", "product", "payment", "delivery", "notification", "view"]
UID = 10001
BUILD_TIMEOUT_S = int(os.environ.get("HB_POD_BUILD_TIMEOUT", "780"))
PODMAN_TIMEOUT_S = 120
HEALTH_TIMEOUT_S = 90
HTTP_TIMEOUT_S = 10


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(hausbus\s+VERSION\s+([0-9.]+)", f.read())
    return m.group(1) if m else "latest"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, timeout, check=True, **kw):
    """Runs argv bounded in time; returns CompletedProcess with text output."""
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(argv), proc.returncode,
                                                    proc.stdout[-4000:]))
    return proc


def helm_binary():
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for cand in (os.path.join(cache, "hausbus-helm", "bin", "helm"), shutil.which("helm")):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def pod_yaml(pod, image, mqtt_port, http_port, data_dir, conf_dir):
    """One Pod on the host network: every process on its own loopback port, uid 10001."""
    common_env = [
        {"name": "HAUSBUS_MQTT_HOST", "value": "127.0.0.1"},
        {"name": "HAUSBUS_MQTT_PORT", "value": str(mqtt_port)},
        {"name": "HAUSBUS_DATA_DIR", "value": "/var/lib/hausbus"},
        {"name": "HAUSBUS_LOG_LEVEL", "value": "info"},
    ]
    security = {"runAsUser": UID, "runAsGroup": UID, "runAsNonRoot": True,
                "allowPrivilegeEscalation": False}
    data_mount = {"name": "data", "mountPath": "/var/lib/hausbus"}
    containers = [{
        "name": "mosquitto",
        "image": image,
        "command": ["/usr/sbin/mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"],
        "securityContext": security,
        "volumeMounts": [{"name": "broker-conf", "mountPath": "/etc/mosquitto",
                          "readOnly": True},
                         {"name": "broker-data", "mountPath": "/mosquitto/data"}],
    }]
    for name in COMPONENTS:
        containers.append({
            "name": name,
            "image": image,
            "command": ["/usr/local/bin/hausbus-" + name],
            "env": common_env,
            "securityContext": security,
            "volumeMounts": [data_mount],
        })
    containers.append({
        "name": "gateway",
        "image": image,
        "command": ["/usr/local/bin/hausbus-gateway"],
        # Loopback: on the host network 0.0.0.0 would be every interface of the machine.
        "env": common_env + [{"name": "HAUSBUS_HTTP_PORT", "value": str(http_port)},
                             {"name": "HAUSBUS_HTTP_BIND", "value": "127.0.0.1"},
                             {"name": "HAUSBUS_AUTH", "value": "open"}],
        "securityContext": security,
        "volumeMounts": [data_mount],
    })
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod, "labels": {"app.kubernetes.io/name": "hausbus"}},
        "spec": {
            "hostNetwork": True,
            "restartPolicy": "Always",
            "securityContext": {"runAsUser": UID, "runAsGroup": UID, "runAsNonRoot": True},
            "containers": containers,
            "volumes": [
                {"name": "data", "hostPath": {"path": data_dir, "type": "Directory"}},
                {"name": "broker-data",
                 "hostPath": {"path": os.path.join(data_dir, "broker"), "type": "Directory"}},
                {"name": "broker-conf", "hostPath": {"path": conf_dir, "type": "Directory"}},
            ],
        },
    }
    # JSON is YAML: no third-party module needed.
    return json.dumps(doc, indent=2) + "\n"


def broker_conf(mqtt_port):
    with open(os.path.join(ROOT, "container", "mosquitto.conf")) as f:
        conf = f.read()
    conf = re.sub(r"(?m)^listener 1883 0\.0\.0\.0$", "listener %d 127.0.0.1" % mqtt_port, conf)
    assert ("listener %d 127.0.0.1" % mqtt_port) in conf, "container/mosquitto.conf changed"
    return conf


class PodTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: podman builds and runs as root here")
        cls.version = project_version()
        cls.image = "localhost/hausbus:" + cls.version
        start = time.monotonic()
        proc = run([os.path.join(ROOT, "scripts", "build-image.sh"), cls.version],
                   timeout=BUILD_TIMEOUT_S, check=False, cwd=ROOT)
        print(proc.stdout[-3000:], file=sys.stderr)
        if proc.returncode != 0:
            raise AssertionError("scripts/build-image.sh exited %d" % proc.returncode)
        print("image built in %.0f s" % (time.monotonic() - start), file=sys.stderr)

    # --- the image ----------------------------------------------------------------------

    def podman_run(self, *argv, timeout=60):
        return run(["podman", "run", "--rm", "--network", "none", self.image] + list(argv),
                   timeout=timeout, check=False)

    def test_image_layout_and_user(self):
        proc = self.podman_run("id", "-u")
        self.assertEqual((proc.returncode, proc.stdout.strip()), (0, str(UID)), proc.stdout)
        paths = ["/usr/local/bin/hausbus-" + n for n in COMPONENTS + ["gateway", "token"]]
        paths += ["/usr/local/bin/hausbus"]  # the all-in-one
        paths += ["/usr/sbin/mosquitto", "/usr/local/lib/civetweb-tls/libssl.so",
                  "/usr/local/lib/civetweb-tls/libcrypto.so"]
        script = "for p in %s; do test -e \"$p\" || { echo missing $p; exit 1; }; done" % (
            " ".join(paths))
        proc = self.podman_run("/bin/sh", "-c", script)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        # Every executable finds its shared libraries.
        script = ("for p in /usr/local/bin/hausbus /usr/local/bin/hausbus-* /usr/sbin/mosquitto; do "
                  "ldd \"$p\" | grep 'not found' && exit 1; done; exit 0")
        proc = self.podman_run("/bin/sh", "-c", script)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        # The gateway's RPATH reaches the OpenSSL 3 shim.
        proc = self.podman_run("/bin/sh", "-c",
                               "cd /usr/local/bin && ls ../lib/civetweb-tls/libssl.so")
        self.assertEqual(proc.returncode, 0, proc.stdout)

    def test_gateway_serves_https_from_image(self):
        """The OpenSSL 3 shim is where the gateway's RPATH looks ($ORIGIN/../lib/civetweb-tls):
        the gateway in the image answers HTTPS (503 "degraded": no broker on purpose)."""
        if shutil.which("openssl") is None:
            self.skipTest("no openssl command to make a certificate")
        tmp = tempfile.mkdtemp(prefix="hausbus-pod-tls-")
        name = "hausbus-tls-" + uuid.uuid4().hex[:8]
        port = free_port()
        try:
            key, cert, pem = (os.path.join(tmp, n) for n in ("key.pem", "cert.pem", "gw.pem"))
            run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                 "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1"], timeout=60)
            with open(pem, "w") as out, open(cert) as c, open(key) as k:
                out.write(c.read() + k.read())
            os.chmod(pem, 0o644)
            run(["podman", "run", "-d", "--rm", "--name", name, "--network", "host",
                 "-v", pem + ":/etc/hausbus/gw.pem:ro",
                 "-e", "HAUSBUS_HTTP_TLS_CERT=/etc/hausbus/gw.pem",
                 "-e", "HAUSBUS_HTTP_PORT=%d" % port, "-e", "HAUSBUS_HTTP_BIND=127.0.0.1",
                 "-e", "HAUSBUS_MQTT_PORT=%d" % free_port(), "-e", "HAUSBUS_AUTH=open",
                 self.image, "/usr/local/bin/hausbus-gateway"], timeout=PODMAN_TIMEOUT_S)
            ctx = ssl.create_default_context(cafile=cert)

            def get():
                conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
                try:
                    conn.request("GET", "/healthz")
                    resp = conn.getresponse()
                    return resp.status, json.loads(resp.read())
                finally:
                    conn.close()

            status, body = self.wait_for(get, lambda a: True, "GET https://.../healthz",
                                         timeout=30.0)
            self.assertEqual((status, body.get("broker")), (503, "disconnected"), body)
        finally:
            run(["podman", "rm", "-f", "-t", "2", name], timeout=PODMAN_TIMEOUT_S, check=False)
            shutil.rmtree(tmp, ignore_errors=True)

    def test_chart_commands_exist_in_image(self):
        """If the Helm chart renders, every command it runs exists in this image. (The chart
        uses StatefulSets and Services, which `podman kube play` 4.3 does not run; the pod
        test below therefore uses its own Pod.)"""
        helm = helm_binary()
        chart = os.path.join(ROOT, "helm", "hausbus")
        if helm is None or not os.path.isfile(os.path.join(chart, "Chart.yaml")):
            self.skipTest("no helm binary or no chart")
        proc = run([helm, "template", "hb", chart, "--set", "image.tag=" + self.version],
                   timeout=60, check=False)
        if proc.returncode != 0:
            self.skipTest("chart does not render: " + proc.stdout[-500:])
        images = set(re.findall(r"(?m)^\s*image:\s*\"?([^\s\"]+)", proc.stdout))
        self.assertEqual(images, {self.image}, images)
        commands = set(re.findall(r'command:\s*\["(/[^"]+)"', proc.stdout))
        self.assertTrue(commands, "no commands in the rendered chart")
        script = "for p in %s; do test -x \"$p\" || { echo missing $p; exit 1; }; done" % (
            " ".join(sorted(commands)))
        proc = self.podman_run("/bin/sh", "-c", script)
        self.assertEqual(proc.returncode, 0, proc.stdout)

    # --- the pod ------------------------------------------------------------------------

    def test_saga_in_pod(self):
        self.mqtt_port, self.http_port = free_port(), free_port()
        while self.http_port == self.mqtt_port:
            self.http_port = free_port()
        self.pod = "hausbus-pod-" + uuid.uuid4().hex[:8]
        tmp = tempfile.mkdtemp(prefix="hausbus-pod-")
        data_dir = os.path.join(tmp, "data")
        conf_dir = os.path.join(tmp, "conf")
        for d in (data_dir, os.path.join(data_dir, "broker"), conf_dir):
            os.makedirs(d)
            os.chown(d, UID, UID)
        os.chmod(tmp, 0o755)
        with open(os.path.join(conf_dir, "mosquitto.conf"), "w") as f:
            f.write(broker_conf(self.mqtt_port))
        os.chmod(os.path.join(conf_dir, "mosquitto.conf"), 0o644)
        yaml_path = os.path.join(tmp, "hausbus-pod.yaml")
        with open(yaml_path, "w") as f:
            f.write(pod_yaml(self.pod, self.image, self.mqtt_port, self.http_port,
                             data_dir, conf_dir))
        ok = False
        try:
            run(["podman", "kube", "play", yaml_path], timeout=PODMAN_TIMEOUT_S)
            self.wait_healthy()
            self.drive_saga()
            self.check_probe_and_user()
            ok = True
        finally:
            if not ok:
                self.print_logs()
            down = run(["podman", "kube", "down", yaml_path], timeout=PODMAN_TIMEOUT_S,
                       check=False)
            if down.returncode != 0:
                print("podman kube down: " + down.stdout, file=sys.stderr)
                run(["podman", "pod", "rm", "-f", "-t", "5", self.pod], timeout=PODMAN_TIMEOUT_S,
                    check=False)
            if ok:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print("pod test failed; YAML, databases and broker data kept in " + tmp,
                      file=sys.stderr)
        gone = run(["podman", "pod", "exists", self.pod], timeout=30, check=False)
        self.assertNotEqual(gone.returncode, 0, "pod still exists after kube down")

    def print_logs(self):
        for name in ["mosquitto"] + COMPONENTS + ["gateway"]:
            proc = run(["podman", "logs", "--tail", "30", "%s-%s" % (self.pod, name)],
                       timeout=30, check=False)
            print("--- %s ---\n%s" % (name, proc.stdout), file=sys.stderr)

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=HTTP_TIMEOUT_S)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            try:
                parsed = json.loads(payload) if payload else None
            except ValueError:
                parsed = payload
            return resp.status, parsed
        finally:
            conn.close()

    def expect(self, method, path, status, body=None):
        got, parsed = self.request(method, path, body)
        self.assertEqual(got, status, "%s %s answered %d %r" % (method, path, got, parsed))
        return parsed

    def wait_for(self, fn, until, what, timeout=30.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = fn()
                if until(last):
                    return last
            except (OSError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s; last: %r" % (what, last))

    def wait_healthy(self):
        def health():
            return self.request("GET", "/healthz")

        def healthy(answer):
            status, body = answer
            comps = body.get("components") if isinstance(body, dict) else None
            return status == 200 and isinstance(comps, dict) and all(
                comps.get(c) == "online" for c in COMPONENTS)

        self.wait_for(health, healthy, "GET /healthz with all six components online",
                      timeout=HEALTH_TIMEOUT_S)

    def wait_order(self, order_id, status):
        return self.wait_for(lambda: self.expect("GET", "/orders/%d" % order_id, 200),
                             lambda o: o["status"] == status,
                             "order %d to be %s" % (order_id, status))

    def drive_saga(self):
        user = 4242
        product = self.expect("POST", "/products", 201,
                              {"productName": "Sofa Kivik", "stock": 20, "price": 45000})
        order = self.expect("POST", "/orders", 202,
                            {"productId": product["id"], "qty": 3, "userId": user,
                             "productName": "Sofa Kivik"})
        self.assertEqual(order["status"], "PLACED")
        order_id = order["id"]
        paid = self.wait_order(order_id, "PAID")
        self.assertEqual(paid["amount"], 135000)
        deliveries = self.wait_for(
            lambda: self.expect("GET", "/deliveries?orderId=%d" % order_id, 200),
            lambda d: len(d) == 1 and d[0]["status"] == "RECEIVED", "a RECEIVED delivery")
        delivery_id = deliveries[0]["id"]
        self.assertEqual(self.expect("POST", "/deliveries/%d/confirm" % delivery_id, 200)
                         ["status"], "PREPARING")
        self.wait_order(order_id, "PREPARING")
        self.assertEqual(self.expect("POST", "/deliveries/%d/start" % delivery_id, 200)
                         ["status"], "SHIPPING")
        self.wait_order(order_id, "SHIPPING")
        self.assertEqual(self.expect("POST", "/deliveries/%d/complete" % delivery_id, 200)
                         ["status"], "DELIVERED")
        self.wait_order(order_id, "DELIVERED")
        notes = self.wait_for(
            lambda: [n for n in self.expect("GET", "/notifications?userId=%d" % user, 200)
                     if n["orderId"] == order_id],
            lambda n: len(n) == 1 and n[0]["status"] == "SENT", "one SENT notification")
        self.assertEqual(notes[0]["deliveryId"], delivery_id)
        self.assertEqual(self.expect("GET", "/products/%d" % product["id"], 200)["stock"], 17)

    def check_probe_and_user(self):
        # The first heartbeat is written one loop tick (1 s) after the loop runs, which can
        # be after a fast saga; Kubernetes covers that with initialDelaySeconds and
        # failureThreshold, the test by retrying for a while.
        for name in COMPONENTS:
            argv = ["podman", "exec", "%s-%s" % (self.pod, name),
                    "/usr/local/bin/hausbus-" + name, "--probe"]
            proc = self.wait_for(lambda: run(argv, timeout=30, check=False),
                                 lambda p: p.returncode == 0,
                                 "hausbus-%s --probe to exit 0" % name, timeout=20.0)
            self.assertIn("ok", proc.stdout)
        proc = run(["podman", "exec", "%s-order" % self.pod, "id", "-u"], timeout=30)
        self.assertEqual(proc.stdout.strip(), str(UID))
        # The databases are on the hostPath volume, written by uid 10001.
        proc = run(["podman", "exec", "%s-order" % self.pod, "ls", "/var/lib/hausbus"],
                   timeout=30)
        for name in COMPONENTS:
            self.assertIn(name + ".db", proc.stdout.split(), proc.stdout)


if __name__ == "__main__":
    unittest.main()
