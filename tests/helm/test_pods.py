"""Pods: probes of the right kind, non-root security, named ports, mesh labels, volumes."""
import unittest

import helmlib


class Pods(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.default = helmlib.render()
        cls.custom = helmlib.render([helmlib.CUSTOM_VALUES])

    def test_every_container_has_liveness_and_readiness_probes(self):
        for objs in (self.default, self.custom):
            for w, c in helmlib.containers(objs):
                self.assertIn("livenessProbe", c, w["metadata"]["name"])
                self.assertIn("readinessProbe", c, w["metadata"]["name"])

    def test_gateway_probes_healthz_and_readyz_on_its_named_port(self):
        # Alive while it has its broker; ready only when every component is online.
        c = helmlib.one(self.default, "Deployment", "gateway")["spec"]["template"]["spec"][
            "containers"][0]
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "http-gateway"})
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "http-gateway"})

    def test_components_probe_with_their_own_binary(self):
        for name in helmlib.COMPONENTS:
            c = helmlib.one(self.default, "StatefulSet", name)["spec"]["template"]["spec"][
                "containers"][0]
            cmd = ["/usr/local/bin/hausbus-%s" % name, "--probe"]
            self.assertEqual(c["command"], cmd[:1])
            for probe in ("livenessProbe", "readinessProbe"):
                self.assertEqual(c[probe]["exec"]["command"], cmd, name)

    def test_mosquitto_probes_its_mqtt_port(self):
        c = helmlib.one(self.default, "StatefulSet", "mosquitto")["spec"]["template"]["spec"][
            "containers"][0]
        for probe in ("livenessProbe", "readinessProbe"):
            self.assertEqual(c[probe]["tcpSocket"], {"port": "tcp-mqtt"})

    def test_pods_run_non_root_with_a_read_only_root_and_no_capabilities(self):
        for objs in (self.default, self.custom):
            for w, c in helmlib.containers(objs):
                pod = w["spec"]["template"]["spec"]["securityContext"]
                self.assertTrue(pod["runAsNonRoot"])
                self.assertNotEqual(pod["runAsUser"], 0)
                sc = c["securityContext"]
                self.assertTrue(sc["runAsNonRoot"])
                self.assertNotEqual(sc["runAsUser"], 0)
                self.assertTrue(sc["readOnlyRootFilesystem"])
                self.assertFalse(sc["allowPrivilegeEscalation"])
                self.assertEqual(sc["capabilities"]["drop"], ["ALL"])

    def test_every_container_has_requests_and_limits(self):
        for w, c in helmlib.containers(self.default):
            for part in ("requests", "limits"):
                self.assertEqual(set(c["resources"][part]), {"cpu", "memory"},
                                 w["metadata"]["name"])

    def test_named_ports_for_the_mesh(self):
        gw = helmlib.one(self.default, "Service", "gateway")["spec"]["ports"]
        self.assertEqual([(p["name"], p["port"], p["targetPort"]) for p in gw],
                         [("http-gateway", 8080, "http-gateway")])
        mq = helmlib.one(self.default, "Service", "mosquitto")["spec"]["ports"]
        self.assertEqual([(p["name"], p["port"], p["targetPort"]) for p in mq],
                         [("tcp-mqtt", 1883, "tcp-mqtt")])
        gw_c = helmlib.one(self.default, "Deployment", "gateway")["spec"]["template"]["spec"][
            "containers"][0]
        self.assertEqual(gw_c["ports"][0]["name"], "http-gateway")
        self.assertEqual(gw_c["ports"][0]["containerPort"], 8080)

    def test_app_and_version_labels_on_every_pod(self):
        for objs, version in ((self.default, "0.1.0"), (self.custom, "1.2.3")):
            for w in helmlib.workloads(objs):
                labels = w["spec"]["template"]["metadata"]["labels"]
                self.assertTrue(labels["app"].startswith("hausbus-"), labels)
                self.assertEqual(labels["version"], version)

    def test_a_service_per_workload_selects_its_pods(self):
        services = helmlib.find(self.default, "Service")
        for w in helmlib.workloads(self.default):
            labels = w["spec"]["template"]["metadata"]["labels"]
            matching = [s for s in services
                        if s["spec"]["selector"].items() <= labels.items()]
            self.assertEqual(len(matching), 1, w["metadata"]["name"])

    def test_six_components_and_the_broker_keep_data_on_claims(self):
        for name in helmlib.COMPONENTS + ("mosquitto",):
            sts = helmlib.one(self.default, "StatefulSet", name)
            self.assertEqual(sts["spec"]["replicas"], 1)
            claims = sts["spec"]["volumeClaimTemplates"]
            self.assertEqual([c["metadata"]["name"] for c in claims], ["data"])
            self.assertEqual(claims[0]["spec"]["accessModes"], ["ReadWriteOnce"])
            mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
            data = [m for m in mounts if m["name"] == "data"]
            self.assertEqual(len(data), 1)
            self.assertFalse(data[0].get("readOnly", False))
        sts = helmlib.one(self.default, "StatefulSet", "order")
        mount = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
        self.assertEqual(mount["mountPath"], "/var/lib/hausbus")

    def test_custom_storage_size_and_class(self):
        claim = helmlib.one(self.custom, "StatefulSet", "order")["spec"][
            "volumeClaimTemplates"][0]["spec"]
        self.assertEqual(claim["resources"]["requests"]["storage"], "5Gi")
        self.assertEqual(claim["storageClassName"], "fast-ssd")
        claim = helmlib.one(self.custom, "StatefulSet", "product")["spec"][
            "volumeClaimTemplates"][0]["spec"]
        self.assertNotIn("storageClassName", claim)

    def test_one_image_for_all_by_default(self):
        images = {c["image"] for _, c in helmlib.containers(self.default)}
        self.assertEqual(images, {"localhost/hausbus:0.1.0"})
        for _, c in helmlib.containers(self.default):
            self.assertEqual(c["imagePullPolicy"], "IfNotPresent")
        mq = helmlib.one(self.custom, "StatefulSet", "mosquitto")["spec"]["template"]["spec"][
            "containers"][0]
        self.assertEqual(mq["image"], "docker.io/library/eclipse-mosquitto:2.0.18")

    def test_ingress_routes_to_the_gateway_service(self):
        ing = helmlib.one(self.custom, "Ingress", "gateway")
        svc = helmlib.one(self.custom, "Service", "gateway")
        backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        self.assertEqual(backend, {"name": svc["metadata"]["name"],
                                   "port": {"name": "http-gateway"}})
        self.assertEqual(ing["spec"]["ingressClassName"], "nginx")


if __name__ == "__main__":
    unittest.main()
