"""database.url / database.existingSecret: every component becomes a Deployment of
replicas on PostgreSQL with a HorizontalPodAutoscaler (CPU 50%, 1 to 10, as the original
shop) and a PodDisruptionBudget, no volume; without them, today's StatefulSets."""
import base64
import unittest

import helmlib

URL = "postgresql://hausbus:s3cret@pg.example:5432/hausbus"


class SharedStore(unittest.TestCase):
    def render(self, sets=()):
        return helmlib.render(sets=["database.url=" + URL] + list(sets))

    def test_every_component_is_a_deployment_with_hpa_and_pdb_and_no_claim(self):
        objs = self.render()
        for name in helmlib.COMPONENTS:
            with self.subTest(component=name):
                deployment = helmlib.one(objs, "Deployment", name)
                self.assertNotIn("replicas", deployment["spec"])  # the HPA owns it
                hpa = helmlib.one(objs, "HorizontalPodAutoscaler", name)
                self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"],
                                 deployment["metadata"]["name"])
                self.assertEqual((hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]), (1, 10))
                self.assertEqual(hpa["spec"]["metrics"][0]["resource"]["target"],
                                 {"type": "Utilization", "averageUtilization": 50})
                pdb = helmlib.one(objs, "PodDisruptionBudget", name)
                self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
                self.assertEqual(pdb["spec"]["selector"]["matchLabels"],
                                 deployment["spec"]["selector"]["matchLabels"])
                volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
                self.assertEqual(volumes["data"], {"name": "data", "emptyDir": {}})
                self.assertEqual(volumes["database-url"]["secret"]["items"],
                                 [{"key": "url", "path": "url"}])
                container = deployment["spec"]["template"]["spec"]["containers"][0]
                self.assertIn({"name": "HAUSBUS_INSTANCE",
                               "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                              container["env"])
                config = helmlib.one(objs, "ConfigMap", name)["data"]
                self.assertEqual(config["HAUSBUS_DATABASE_URL_FILE"], "/etc/hausbus/database/url")
                self.assertNotIn(URL, str(config))  # the password stays in the Secret
        self.assertEqual(helmlib.find(objs, "StatefulSet", "order"), [])
        self.assertEqual(helmlib.find(objs, "PersistentVolumeClaim"), [])
        secret = helmlib.one(objs, "Secret", "database")
        self.assertEqual(base64.b64decode(secret["data"]["url"]).decode(), URL)
        gateway = helmlib.one(objs, "ConfigMap", "gateway")["data"]
        self.assertNotIn("HAUSBUS_DATABASE_URL_FILE", gateway)

    def test_fixed_replicas_without_autoscaling(self):
        objs = self.render(["order.autoscaling.enabled=false", "order.replicaCount=3"])
        self.assertEqual(helmlib.one(objs, "Deployment", "order")["spec"]["replicas"], 3)
        self.assertEqual(helmlib.find(objs, "HorizontalPodAutoscaler", "order"), [])
        self.assertEqual(helmlib.one(objs, "HorizontalPodAutoscaler", "view")["kind"],
                         "HorizontalPodAutoscaler")  # the others keep theirs

    def test_an_existing_secret_such_as_cloudnativepg_s(self):
        objs = helmlib.render(sets=["database.existingSecret=pg-app", "database.secretKey=uri"])
        self.assertEqual(helmlib.find(objs, "Secret", "database"), [])
        deployment = helmlib.one(objs, "Deployment", "payment")
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["database-url"]["secret"]["secretName"], "pg-app")
        self.assertEqual(helmlib.one(objs, "ConfigMap", "payment")["data"][
            "HAUSBUS_DATABASE_URL_FILE"], "/etc/hausbus/database/uri")

    def test_without_a_database_the_components_stay_one_replica_statefulsets(self):
        objs = helmlib.render()
        for name in helmlib.COMPONENTS:
            self.assertEqual(helmlib.one(objs, "StatefulSet", name)["spec"]["replicas"], 1)
            self.assertEqual(helmlib.find(objs, "HorizontalPodAutoscaler", name), [])
            self.assertEqual(helmlib.find(objs, "PodDisruptionBudget", name), [])

    def test_schema_refuses_a_url_that_is_not_postgresql(self):
        res = helmlib.run("helm", "template", helmlib.RELEASE, helmlib.CHART,
                          "--set", "database.url=mysql://x", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("database.url", res.stderr)


if __name__ == "__main__":
    unittest.main()
