"""The chart with helm/hausbus/values-podman.yaml: what `podman kube play` (4.3) can run on
one machine, and what tests/pod plays: one-replica Deployments with their own claims, every
pod on the host network and on loopback."""
import unittest

import helmlib

BROKER_AND_COMPONENTS = helmlib.COMPONENTS + ("mosquitto",)


class PodmanValues(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.objs = helmlib.render([helmlib.PODMAN_VALUES])
        cls.default = helmlib.render()

    def pod_spec(self, name):
        return helmlib.one(self.objs, "Deployment", name)["spec"]["template"]["spec"]

    def config(self, name):
        return helmlib.one(self.objs, "ConfigMap", name)["data"]

    def test_no_statefulset_and_no_autoscaler(self):
        kinds = {o["kind"] for o in self.objs}
        self.assertNotIn("StatefulSet", kinds)
        self.assertNotIn("HorizontalPodAutoscaler", kinds)

    def test_broker_and_components_are_single_replica_recreate_deployments(self):
        for name in BROKER_AND_COMPONENTS:
            spec = helmlib.one(self.objs, "Deployment", name)["spec"]
            self.assertEqual(spec["replicas"], 1, name)
            # Recreate: the old pod closes the sqlite database before the new one opens it.
            self.assertEqual(spec["strategy"], {"type": "Recreate"}, name)
            self.assertNotIn("serviceName", spec, name)
            self.assertNotIn("volumeClaimTemplates", spec, name)

    def test_each_claim_is_named_like_the_statefulset_claim_so_data_survives_a_switch(self):
        for name in BROKER_AND_COMPONENTS:
            claim = "data-%s-hausbus-%s-0" % (helmlib.RELEASE, name)
            pvcs = [p for p in helmlib.find(self.objs, "PersistentVolumeClaim")
                    if p["metadata"]["name"] == claim]
            self.assertEqual(len(pvcs), 1, claim)
            self.assertEqual(pvcs[0]["spec"]["accessModes"], ["ReadWriteOnce"])
            self.assertEqual(pvcs[0]["spec"]["resources"]["requests"]["storage"], "1Gi")
            volumes = {v["name"]: v for v in self.pod_spec(name)["volumes"]}
            self.assertEqual(volumes["data"], {"name": "data",
                                               "persistentVolumeClaim": {"claimName": claim}})
            sts = helmlib.one(self.default, "StatefulSet", name)
            self.assertEqual(sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "data")

    def test_every_pod_is_on_the_host_network_without_port_mappings(self):
        for w in helmlib.workloads(self.objs):
            pod = w["spec"]["template"]["spec"]
            self.assertIs(pod.get("hostNetwork"), True, w["metadata"]["name"])
            for c in pod["containers"]:
                # podman refuses port mappings on the host network.
                self.assertNotIn("ports", c, w["metadata"]["name"])
        for w in helmlib.workloads(self.default):
            self.assertNotIn("hostNetwork", w["spec"]["template"]["spec"])

    def test_claims_can_be_left_out_when_they_exist(self):
        objs = helmlib.render([helmlib.PODMAN_VALUES], ["workload.createClaims=false"])
        self.assertEqual(helmlib.find(objs, "PersistentVolumeClaim"), [])
        volumes = {v["name"]: v for v in helmlib.one(objs, "Deployment", "order")["spec"][
            "template"]["spec"]["volumes"]}
        self.assertEqual(volumes["data"]["persistentVolumeClaim"]["claimName"],
                         "data-%s-hausbus-order-0" % helmlib.RELEASE)

    def test_probes_use_port_numbers_on_the_host_network(self):
        gateway = self.pod_spec("gateway")["containers"][0]
        broker = self.pod_spec("mosquitto")["containers"][0]
        for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            self.assertEqual(gateway[kind]["httpGet"], {"path": path, "port": 8080})
            self.assertEqual(broker[kind]["tcpSocket"], {"port": 1883})

    def test_everything_meets_on_loopback(self):
        for name in helmlib.COMPONENTS + ("gateway",):
            self.assertEqual(self.config(name)["HAUSBUS_MQTT_HOST"], "127.0.0.1", name)
        self.assertEqual(self.config("gateway")["HAUSBUS_HTTP_BIND"], "127.0.0.1")
        conf = self.config("mosquitto")["mosquitto.conf"]
        self.assertIn("\nlistener 1883 127.0.0.1\n", conf)

    def test_custom_ports_reach_probes_config_and_broker(self):
        objs = helmlib.render([helmlib.PODMAN_VALUES],
                              ["mosquitto.port=18830", "gateway.port=18080"])
        broker = helmlib.one(objs, "ConfigMap", "mosquitto")["data"]["mosquitto.conf"]
        self.assertIn("\nlistener 18830 127.0.0.1\n", broker)
        for name in helmlib.COMPONENTS + ("gateway",):
            self.assertEqual(helmlib.one(objs, "ConfigMap", name)["data"]["HAUSBUS_MQTT_PORT"],
                             "18830")
        gateway = helmlib.one(objs, "Deployment", "gateway")["spec"]["template"]["spec"]
        self.assertEqual(gateway["containers"][0]["livenessProbe"]["httpGet"]["port"], 18080)

    def test_explicit_broker_host_wins(self):
        objs = helmlib.render([helmlib.PODMAN_VALUES], ["config.mqttHost=broker.example"])
        self.assertEqual(helmlib.one(objs, "ConfigMap", "order")["data"]["HAUSBUS_MQTT_HOST"],
                         "broker.example")

    def test_an_unknown_workload_kind_is_refused(self):
        self.assertIn("workload.kind must be", helmlib.refusal(sets=["workload.kind=DaemonSet"]))


if __name__ == "__main__":
    unittest.main()
