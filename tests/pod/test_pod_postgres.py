# The chart's PostgreSQL mode really running: a PostgreSQL 15 pod (tests/pod/postgres, built
# from the local bookworm base), the chart rendered with database.url and two replicas of
# every component (Deployments without volumes), played with `podman kube play`. The saga
# through the gateway pod three times: with both replicas of every component, with replica 0
# of each killed -9 right after the order is placed, and with replica 0 started again and
# replica 1 killed. Always ends with `podman kube down` of both.
# podman 4.3 panics on Secret volumes (its kube play hands them no secrets manager), so the
# test gives the pods the chart's database Secret as a ConfigMap of the same name and key:
# the components read the same file (HAUSBUS_DATABASE_URL_FILE) either way.
import base64
import json
import os
import socket
import sys
import shutil
import tempfile
import unittest
import uuid

from podlib import (BUILD_TIMEOUT_S, COMPONENTS, PODMAN_TIMEOUT_S, ROOT, GatewayClient,
                    PlayedChart, build_image, free_port, helmlib, project_version,
                    render_chart, run)

PG_IMAGE = "localhost/hausbus-postgres:15"
REPLICAS = 2
PG_START_TIMEOUT_S = 60


def distinct_ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return list(ports)


def postgres_deployment(name, port, password):
    """A one-pod Deployment of the test's PostgreSQL on the host network."""
    env = {"PGPORT": str(port), "HAUSBUS_DB_USER": "hausbus",
           "HAUSBUS_DB_PASSWORD": password, "HAUSBUS_DB_NAME": "hausbus"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "hostNetwork": True,
                     "containers": [{"name": "postgres", "image": PG_IMAGE,
                                     "env": [{"name": k, "value": v}
                                             for k, v in sorted(env.items())]}]}}}}


def secrets_as_config_maps(objs):
    """The chart's objects with every Secret (and Secret volume) turned into a ConfigMap of
    the same name and keys: what podman 4.3 can play."""
    out = []
    for o in objs:
        if o["kind"] == "Secret":
            o = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": o["metadata"],
                 "data": {k: base64.b64decode(v).decode() for k, v in o["data"].items()}}
        elif o["kind"] == "Deployment":
            for v in o["spec"]["template"]["spec"].get("volumes", []):
                if "secret" in v:
                    secret = v.pop("secret")
                    v["configMap"] = {"name": secret["secretName"],
                                      "items": secret.get("items", [])}
        out.append(o)
    return out


def as_yaml_stream(objs):
    """JSON documents are YAML documents: a stream podman kube play reads."""
    return "".join("---\n%s\n" % json.dumps(o, indent=1) for o in objs)


class PostgresPodTest(GatewayClient, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: podman builds and runs as root here")
        cls.version = project_version()
        build_image(cls.version)
        run(["podman", "build", "--pull=never", "-t", PG_IMAGE,
             os.path.join(ROOT, "tests", "pod", "postgres")], timeout=BUILD_TIMEOUT_S)

    def render(self, release, password):
        sets = ["database.url=postgresql://hausbus:%s@127.0.0.1:%d/hausbus"
                % (password, self.pg_port)]
        for c in COMPONENTS:
            sets += ["%s.replicaCount=%d" % (c, REPLICAS), "%s.autoscaling.enabled=false" % c,
                     "%s.podDisruptionBudget.enabled=false" % c]
        text = render_chart(release, self.version, self.mqtt_port, self.http_port, sets=sets)
        return secrets_as_config_maps(helmlib().yaml_to_objects(text))

    def wait_postgres(self):
        """postgres listens on 127.0.0.1 only once initdb and createdb are done."""
        def connect():
            with socket.create_connection(("127.0.0.1", self.pg_port), timeout=1):
                return True
        self.wait_for(connect, bool, "PostgreSQL on port %d" % self.pg_port,
                      timeout=PG_START_TIMEOUT_S)

    def test_two_replicas_of_every_component_on_a_postgresql_pod(self):
        self.pg_port, self.mqtt_port, self.http_port = distinct_ports(3)
        release = "hbpg" + uuid.uuid4().hex[:6]
        password = uuid.uuid4().hex
        objs = self.render(release, password)
        kinds = {(o["kind"], o["metadata"]["name"]) for o in objs}
        for c in COMPONENTS:
            self.assertIn(("Deployment", "%s-hausbus-%s" % (release, c)), kinds)
            self.assertNotIn(("PersistentVolumeClaim", "data-%s-hausbus-%s-0" % (release, c)),
                             kinds)
        tmp = tempfile.mkdtemp(prefix="hausbus-pod-pg-")
        chart_path, pg_path = (os.path.join(tmp, n) for n in ("chart.yaml", "postgres.yaml"))
        with open(chart_path, "w") as f:
            f.write(as_yaml_stream(objs))
        with open(pg_path, "w") as f:
            f.write(as_yaml_stream([postgres_deployment(release + "-postgres", self.pg_port,
                                                        password)]))
        self.played = PlayedChart(as_yaml_stream(objs))
        for c in COMPONENTS:
            self.assertEqual(len(self.played.replicas[c]), REPLICAS, self.played.replicas)
        ok = False
        try:
            run(["podman", "kube", "play", pg_path], timeout=PODMAN_TIMEOUT_S)
            self.wait_postgres()
            run(["podman", "kube", "play", chart_path], timeout=PODMAN_TIMEOUT_S)
            self.wait_healthy()
            self.check_replicas_started(release)
            self.assertEqual(self.replica_statuses(), self.expected_statuses(release, REPLICAS))
            self.drive_saga()
            # Replica 0 of every component killed -9 while the saga's first events are under
            # way: replica 1 gets all of the shared subscriptions, and what the killed one
            # had taken is asked for again (HAUSBUS_REDRIVE_MS); its last will says offline.
            self.drive_saga(after_order=lambda: self.kill_replicas(0))
            self.assertEqual(self.replica_statuses(), self.expected_statuses(release, 1))
            # Started again (podman does not restart a killed container; Kubernetes would),
            # they take their share again: now the other replicas are killed.
            for c in COMPONENTS:
                run(["podman", "start", self.played.replicas[c][0]], timeout=PODMAN_TIMEOUT_S)
            self.wait_for(self.replica_statuses, lambda s: s == self.expected_statuses(
                release, REPLICAS), "every replica online again")
            self.drive_saga(after_order=lambda: self.kill_replicas(1))
            self.assertEqual(self.replica_statuses(), self.expected_statuses(release, 0))
            ok = True
        finally:
            if not ok:
                self.print_logs()
                print(run(["podman", "logs", "--tail", "30", release + "-postgres-pod-0-postgres"],
                          timeout=30, check=False).stdout, file=sys.stderr)
            self.tear_down_chart(chart_path)
            run(["podman", "kube", "down", pg_path], timeout=PODMAN_TIMEOUT_S, check=False)
            if ok:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print("pod test failed; rendered chart kept in " + tmp, file=sys.stderr)
        for pod in self.played.pods + [release + "-postgres-pod-0"]:
            gone = run(["podman", "pod", "exists", pod], timeout=30, check=False)
            self.assertNotEqual(gone.returncode, 0, pod + " still exists after kube down")

    def check_replicas_started(self, release):
        """Each replica connected with its own client id, hausbus-<component>-<pod name>."""
        for c in COMPONENTS:
            for i, container in enumerate(self.played.replicas[c]):
                pod = "%s-hausbus-%s-pod-%d" % (release, c, i)
                want = "data in PostgreSQL, broker 127.0.0.1:%d as hausbus-%s-%s" % (
                    self.mqtt_port, c, pod)
                self.wait_for(lambda: run(["podman", "logs", container], timeout=30).stdout,
                              lambda out: want in out, "%s to log %r" % (container, want),
                              timeout=20.0)

    def replica_statuses(self):
        """The statuses the broker retains for replicas: {"<component>/<pod>": "online"}."""
        proc = run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.mqtt_port), "-v",
                    "-t", "hausbus/v1/status/+/+", "-W", "2"], timeout=30, check=False)
        prefix = "hausbus/v1/status/"
        return dict(line[len(prefix):].split(" ", 1) for line in proc.stdout.splitlines()
                    if line.startswith(prefix) and " " in line)

    def expected_statuses(self, release, online):
        """Every replica's status: "online" for replica `online` only, or for all of them
        when online == REPLICAS."""
        return {"%s/%s-hausbus-%s-pod-%d" % (c, release, c, i):
                "online" if online in (i, REPLICAS) else "offline"
                for c in COMPONENTS for i in range(REPLICAS)}

    def kill_replicas(self, index):
        """kill -9 of replica `index` of every component."""
        for c in COMPONENTS:
            run(["podman", "kill", "--signal", "KILL", self.played.replicas[c][index]],
                timeout=PODMAN_TIMEOUT_S)


if __name__ == "__main__":
    unittest.main()
