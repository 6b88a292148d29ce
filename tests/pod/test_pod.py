# The container image and the Helm chart really running: builds localhost/hausbus:<version>
# with scripts/build-image.sh, renders helm/hausbus with its values-podman.yaml (Deployments
# with claims, host network, loopback ports chosen here), plays it with `podman kube play`,
# drives the saga through the gateway pod, runs the chart's exec probes, plays it down and up
# again (the data survives on the claims' volumes) and always ends with `podman kube down`.
# Needs root (podman builds and runs as root on this machine) and Debian's apt mirrors once.
import base64
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


def helmlib():
    """tests/helm/helmlib.py: fetches helm and kubectl once, renders and parses the chart."""
    helm_tests = os.path.join(ROOT, "tests", "helm")
    if helm_tests not in sys.path:
        sys.path.insert(0, helm_tests)
    import helmlib as lib
    return lib


def render_chart(release, version, mqtt_port, http_port, create_claims=True):
    """The chart with its values-podman.yaml on loopback ports of our choosing: YAML text."""
    lib = helmlib()
    return lib.run("helm", "template", release, lib.CHART, "-f", lib.PODMAN_VALUES,
                   "--set", "image.tag=" + version,
                   "--set", "mosquitto.port=%d" % mqtt_port,
                   "--set", "gateway.port=%d" % http_port,
                   "--set", "workload.createClaims=%s" % str(create_claims).lower()).stdout


class PlayedChart:
    """What `podman kube play` makes of the rendered chart: pod and container names (podman
    names a Deployment's pod <deployment>-pod-0 and its containers <pod>-<container>) and
    the named volumes it creates for claims and ConfigMap volumes, which `kube down` keeps."""

    def __init__(self, yaml_text):
        objs = helmlib().yaml_to_objects(yaml_text)
        self.pods, self.containers, self.volumes = [], {}, set()
        for o in objs:
            if o["kind"] == "PersistentVolumeClaim":
                self.volumes.add(o["metadata"]["name"])
            if o["kind"] != "Deployment":
                continue
            pod = o["metadata"]["name"] + "-pod-0"
            self.pods.append(pod)
            spec = o["spec"]["template"]["spec"]
            for c in spec["containers"]:
                self.containers[c["name"]] = "%s-%s" % (pod, c["name"])
            for v in spec.get("volumes", []):
                if "configMap" in v:
                    self.volumes.add(v["configMap"]["name"])
        for o in objs:
            if o["kind"] == "StatefulSet":
                raise AssertionError("podman 4.3 cannot play a StatefulSet")


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
        """If the Helm chart renders, every command it runs exists in this image."""
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

    def test_broker_init_container_hashes_the_generated_passwords_in_image(self):
        """The secure default's initContainer, run as the chart runs it (uid 10001, read-only
        root, the Secret's files mounted read-only): mosquitto_passwd hashes every password."""
        lib = helmlib()
        objs = lib.render(sets=["image.tag=" + self.version])
        pod = lib.one(objs, "StatefulSet", "mosquitto")["spec"]["template"]["spec"]
        init, = pod["initContainers"]
        data = lib.one(objs, "Secret", "mqtt")["data"]
        mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
        tmp = tempfile.mkdtemp(prefix="hausbus-pod-init-")
        try:
            users, auth = os.path.join(tmp, "users"), os.path.join(tmp, "auth")
            os.mkdir(users)
            os.mkdir(auth)
            os.chown(auth, UID, UID)
            for key, value in data.items():
                with open(os.path.join(users, key), "wb") as f:
                    f.write(base64.b64decode(value))
                os.chown(os.path.join(users, key), UID, UID)
            proc = run(["podman", "run", "--rm", "--network", "none", "--read-only",
                        "--user", "%d:%d" % (UID, UID), "--tmpfs", mounts["tmp"],
                        "-v", "%s:%s:ro" % (users, mounts["users"]),
                        "-v", "%s:%s" % (auth, mounts["auth"]), init["image"]]
                       + init["command"], timeout=60, check=False)
            self.assertEqual(proc.returncode, 0, proc.stdout)
            with open(os.path.join(auth, "passwd")) as f:
                hashed = dict(line.strip().split(":", 1) for line in f if line.strip())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(sorted(hashed), sorted(k[:-len(".password")] for k in data))
        for user, value in hashed.items():
            self.assertTrue(value.startswith("$7$"), "not a pbkdf2 hash for " + user)

    # --- the pod ------------------------------------------------------------------------

    def test_chart_plays_in_podman(self):
        """helm template with values-podman.yaml, `podman kube play`, the saga through the
        gateway pod, the chart's exec probes, then down and up again: the data survives on
        the claims' volumes. Always ends with `kube down` and the volumes removed."""
        self.mqtt_port, self.http_port = free_port(), free_port()
        while self.http_port == self.mqtt_port:
            self.http_port = free_port()
        release = "hbpod" + uuid.uuid4().hex[:6]
        text = render_chart(release, self.version, self.mqtt_port, self.http_port)
        self.played = PlayedChart(text)
        self.assertEqual(sorted(self.played.containers), sorted(COMPONENTS + ["gateway",
                                                                              "mosquitto"]))
        tmp = tempfile.mkdtemp(prefix="hausbus-pod-")
        yaml_path = os.path.join(tmp, "chart.yaml")
        with open(yaml_path, "w") as f:
            f.write(text)
        ok = False
        try:
            run(["podman", "kube", "play", yaml_path], timeout=PODMAN_TIMEOUT_S)
            self.wait_healthy()
            self.check_open_mode_is_logged()
            product_id, order_id = self.drive_saga()
            self.check_probes_and_user()
            # Down and up again, as an upgrade or a node restart would: same claims. podman
            # 4.3 refuses to create a volume that exists, so the replay leaves them out.
            run(["podman", "kube", "down", yaml_path], timeout=PODMAN_TIMEOUT_S)
            replay_path = os.path.join(tmp, "chart-replay.yaml")
            with open(replay_path, "w") as f:
                f.write(render_chart(release, self.version, self.mqtt_port, self.http_port,
                                     create_claims=False))
            run(["podman", "kube", "play", replay_path], timeout=PODMAN_TIMEOUT_S)
            self.wait_healthy()
            # The broker came back with the statuses it had retained before the down, so
            # /healthz can say "online" a moment before a component has reconnected:
            # wait_order retries the 503/504 of that moment.
            self.wait_order(order_id, "DELIVERED")
            self.assertEqual(self.expect("GET", "/products/%d" % product_id, 200)["stock"], 17)
            ok = True
        finally:
            if not ok:
                self.print_logs()
            self.tear_down_chart(yaml_path)
            if ok:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print("pod test failed; rendered chart kept in " + tmp, file=sys.stderr)
        for pod in self.played.pods:
            gone = run(["podman", "pod", "exists", pod], timeout=30, check=False)
            self.assertNotEqual(gone.returncode, 0, pod + " still exists after kube down")
        for volume in self.played.volumes:
            gone = run(["podman", "volume", "exists", volume], timeout=30, check=False)
            self.assertNotEqual(gone.returncode, 0, volume + " still exists")

    def tear_down_chart(self, yaml_path):
        """kube down; it stops at the first pod that is missing (a failed play), so the
        pods are then removed one by one. The claims' volumes outlive kube down."""
        down = run(["podman", "kube", "down", yaml_path], timeout=PODMAN_TIMEOUT_S,
                   check=False)
        if down.returncode != 0:
            print("podman kube down: " + down.stdout, file=sys.stderr)
            for pod in self.played.pods:
                run(["podman", "pod", "rm", "-f", "-t", "5", pod], timeout=PODMAN_TIMEOUT_S,
                    check=False)
        for volume in sorted(self.played.volumes):
            run(["podman", "volume", "rm", "-f", volume], timeout=PODMAN_TIMEOUT_S, check=False)

    def check_open_mode_is_logged(self):
        """values-podman.yaml asks for open mode; the played gateway says so in its log."""
        proc = run(["podman", "logs", self.played.containers["gateway"]], timeout=30,
                   check=False)
        self.assertIn("AUTHENTICATION IS OFF (HAUSBUS_AUTH=open)", proc.stdout)

    def print_logs(self):
        for name, container in sorted(self.played.containers.items()):
            proc = run(["podman", "logs", "--tail", "30", container], timeout=30, check=False)
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
        # Right after a play the order component may still be replaying its backlog under
        # podman's start-up load: a 503 (not online yet) or 504 (too slow) then is a
        # moment of the restart, not an answer; any other status fails at once.
        def get():
            got, parsed = self.request("GET", "/orders/%d" % order_id)
            if got not in (200, 503, 504):
                self.fail("GET /orders/%d answered %d %r" % (order_id, got, parsed))
            return got, parsed

        return self.wait_for(get, lambda a: a[0] == 200 and a[1]["status"] == status,
                             "order %d to be %s" % (order_id, status))[1]

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
        return product["id"], order_id

    def check_probes_and_user(self):
        """Runs the chart's exec probes (`hausbus-<c> --probe`) as podman's health checks.
        podman turns httpGet and tcpSocket probes into curl and nc inside the container,
        which the image does not ship: the gateway's /healthz and the broker's port are
        checked from here instead (wait_healthy)."""
        # The first heartbeat is written one loop tick (1 s) after the loop runs, which can
        # be after a fast saga; Kubernetes covers that with initialDelaySeconds and
        # failureThreshold, the test by retrying for a while.
        for name in COMPONENTS:
            argv = ["podman", "healthcheck", "run", self.played.containers[name]]
            # Exit 0 (silent) when healthy, 1 and "unhealthy" otherwise.
            self.wait_for(lambda: run(argv, timeout=30, check=False),
                          lambda p: p.returncode == 0,
                          "the %s probe to pass" % name, timeout=20.0)
        order = self.played.containers["order"]
        proc = run(["podman", "exec", order, "id", "-u"], timeout=30)
        self.assertEqual(proc.stdout.strip(), str(UID))
        # The database is on the claim's volume, written by uid 10001.
        proc = run(["podman", "exec", order, "ls", "-n", "/var/lib/hausbus"], timeout=30)
        self.assertRegex(proc.stdout, r"\b%d\s+%d\b.*order\.db" % (UID, UID))


if __name__ == "__main__":
    unittest.main()
