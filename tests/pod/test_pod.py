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
import ssl
import sys
import tempfile
import unittest
import uuid

from podlib import (COMPONENTS, PODMAN_TIMEOUT_S, ROOT, UID, GatewayClient, PlayedChart,
                    build_image, free_port, helm_binary, helmlib, project_version,
                    render_chart, run)


class PodTest(GatewayClient, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: podman builds and runs as root here")
        cls.version = project_version()
        cls.image = "localhost/hausbus:" + cls.version
        build_image(cls.version)

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

    def check_open_mode_is_logged(self):
        """values-podman.yaml asks for open mode; the played gateway says so in its log."""
        proc = run(["podman", "logs", self.played.containers["gateway"]], timeout=30,
                   check=False)
        self.assertIn("AUTHENTICATION IS OFF (HAUSBUS_AUTH=open)", proc.stdout)

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
