"""The gateway's HorizontalPodAutoscaler: target, CPU utilisation and replica bounds."""
import unittest

import helmlib


class GatewayAutoscaling(unittest.TestCase):
    def hpa(self, values=(), sets=()):
        objs = helmlib.render(values, sets)
        return objs, helmlib.one(objs, "HorizontalPodAutoscaler", "gateway")

    def test_hpa_targets_gateway_deployment_at_cpu_50_with_1_to_10_replicas(self):
        objs, hpa = self.hpa()
        self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
        deployment = helmlib.one(objs, "Deployment", "gateway")
        self.assertEqual(hpa["spec"]["scaleTargetRef"], {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "name": deployment["metadata"]["name"]})
        self.assertEqual(hpa["spec"]["minReplicas"], 1)
        self.assertEqual(hpa["spec"]["maxReplicas"], 10)
        self.assertEqual(hpa["spec"]["metrics"], [{
            "type": "Resource",
            "resource": {"name": "cpu",
                         "target": {"type": "Utilization", "averageUtilization": 50}}}])

    def test_hpa_owns_the_replica_count(self):
        objs, _ = self.hpa()
        self.assertNotIn("replicas", helmlib.one(objs, "Deployment", "gateway")["spec"])

    def test_custom_values_change_bounds_and_target(self):
        _, hpa = self.hpa([helmlib.CUSTOM_VALUES])
        self.assertEqual(hpa["spec"]["minReplicas"], 2)
        self.assertEqual(hpa["spec"]["maxReplicas"], 6)
        self.assertEqual(
            hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70)

    def test_disabled_autoscaling_renders_fixed_replicas(self):
        objs = helmlib.render(sets=["gateway.autoscaling.enabled=false",
                                    "gateway.replicaCount=3"])
        self.assertEqual(helmlib.find(objs, "HorizontalPodAutoscaler"), [])
        self.assertEqual(helmlib.one(objs, "Deployment", "gateway")["spec"]["replicas"], 3)

    def test_gateway_requests_cpu_so_utilisation_is_defined(self):
        objs, _ = self.hpa()
        container = helmlib.one(objs, "Deployment", "gateway")["spec"]["template"]["spec"][
            "containers"][0]
        self.assertIn("cpu", container["resources"]["requests"])


if __name__ == "__main__":
    unittest.main()
