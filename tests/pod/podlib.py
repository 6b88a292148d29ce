"""What the pod tests share: ports, bounded commands, the chart rendered for podman, the
pods `podman kube play` makes of it, and the gateway client that drives the saga."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

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


def render_chart(release, version, mqtt_port, http_port, create_claims=True, sets=()):
    """The chart with its values-podman.yaml on loopback ports of our choosing: YAML text."""
    lib = helmlib()
    args = []
    for s in sets:
        args += ["--set", s]
    return lib.run("helm", "template", release, lib.CHART, "-f", lib.PODMAN_VALUES,
                   "--set", "image.tag=" + version,
                   "--set", "mosquitto.port=%d" % mqtt_port,
                   "--set", "gateway.port=%d" % http_port,
                   "--set", "workload.createClaims=%s" % str(create_claims).lower(),
                   *args).stdout


def build_image(version):
    """scripts/build-image.sh: localhost/hausbus:<version> (every layer cached when
    nothing changed)."""
    start = time.monotonic()
    proc = run([os.path.join(ROOT, "scripts", "build-image.sh"), version],
               timeout=BUILD_TIMEOUT_S, check=False, cwd=ROOT)
    print(proc.stdout[-3000:], file=sys.stderr)
    if proc.returncode != 0:
        raise AssertionError("scripts/build-image.sh exited %d" % proc.returncode)
    print("image built in %.0f s" % (time.monotonic() - start), file=sys.stderr)


class PlayedChart:
    """What `podman kube play` makes of the rendered chart: pod and container names (podman
    names a Deployment's pods <deployment>-pod-<i>, one per replica, and their containers
    <pod>-<container>) and the named volumes it creates for claims and ConfigMap volumes,
    which `kube down` keeps. containers: the first replica's container of each name;
    replicas: every replica's."""

    def __init__(self, yaml_text):
        objs = helmlib().yaml_to_objects(yaml_text)
        self.pods, self.containers, self.replicas, self.volumes = [], {}, {}, set()
        for o in objs:
            if o["kind"] == "PersistentVolumeClaim":
                self.volumes.add(o["metadata"]["name"])
            if o["kind"] != "Deployment":
                continue
            spec = o["spec"]["template"]["spec"]
            for i in range(o["spec"].get("replicas", 1)):
                pod = "%s-pod-%d" % (o["metadata"]["name"], i)
                self.pods.append(pod)
                for c in spec["containers"]:
                    self.replicas.setdefault(c["name"], []).append("%s-%s" % (pod, c["name"]))
            for v in spec.get("volumes", []):
                if "configMap" in v:
                    self.volumes.add(v["configMap"]["name"])
        self.containers = {name: pods[0] for name, pods in self.replicas.items()}
        for o in objs:
            if o["kind"] == "StatefulSet":
                raise AssertionError("podman 4.3 cannot play a StatefulSet")


class GatewayClient:
    """The saga through a played gateway on 127.0.0.1:self.http_port; self.played is the
    PlayedChart. Mixed into unittest.TestCase classes."""

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

    def drive_saga(self, after_order=None):
        """The saga of one new order, to DELIVERED and a SENT notification; after_order runs
        right after the order is placed. The product's and the order's ids."""
        user = 4242
        product = self.expect("POST", "/products", 201,
                              {"productName": "Sofa Kivik", "stock": 20, "price": 45000})
        order = self.expect("POST", "/orders", 202,
                            {"productId": product["id"], "qty": 3, "userId": user,
                             "productName": "Sofa Kivik"})
        self.assertEqual(order["status"], "PLACED")
        order_id = order["id"]
        if after_order:
            after_order()
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
