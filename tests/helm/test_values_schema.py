"""helm/hausbus/values.schema.json: helm refuses unknown keys, wrong types, negative counts
and values outside their sets, naming the key, and accepts the shipped values files."""
import json
import os
import tempfile
import unittest

import helmlib

SCHEMA = os.path.join(helmlib.CHART, "values.schema.json")

# (--set or a values file's text, text the error must contain)
BAD_VALUES = [
    ("--set", "replicas=3", "(root): Additional property replicas is not allowed"),
    ("--set", "order.replicas=3", "order: Additional property replicas is not allowed"),
    ("--set", "view.replicaCount=0", "view.replicaCount: Must be greater than or equal to 1"),
    ("--set", "order.autoscaling.maxReplicas=0", "order.autoscaling.maxReplicas"),
    ("--set", "database.url=mysql://db/x", "database.url: Does not match pattern"),
    ("--set", "gateway.replicas=2", "gateway: Additional property replicas is not allowed"),
    ("--set", "gateway.auth.secret=x", "gateway.auth: Additional property secret"),
    ("--set", "mosquitto.persistence.sise=1Gi", "mosquitto.persistence: Additional property sise"),
    ("--set", "gateway.replicaCount=-5", "gateway.replicaCount: Must be greater than or equal to 0"),
    ("--set", "gateway.autoscaling.minReplicas=0", "gateway.autoscaling.minReplicas"),
    ("--set", "gateway.autoscaling.maxReplicas=-1", "gateway.autoscaling.maxReplicas"),
    ("--set", "gateway.replicaCount=two", "gateway.replicaCount: Invalid type"),
    ("--set", "gateway.port=70000", "gateway.port: Must be less than or equal to 65535"),
    ("--set", "mosquitto.port=0", "mosquitto.port: Must be greater than or equal to 1"),
    ("--set", "hostNetwork=yes", "hostNetwork: Invalid type. Expected: boolean"),
    ("--set", "mosquitto.auth.enabled=no", "mosquitto.auth.enabled: Invalid type"),
    ("--set", "config.commitBatch=0", "config.commitBatch"),
    ("--set", "config.redriveMs=-1", "config.redriveMs"),
    ("--set", "config.dataDir=relative/dir", "config.dataDir"),
    ("--set", "gateway.auth.mode=off", "gateway.auth.mode"),
    ("--set", "order.logLevel=verbose", "order.logLevel"),
    ("--set", "workload.kind=DaemonSet", "workload.kind"),
    ("--set", "image.pullPolicy=Sometimes", "image.pullPolicy"),
    ("--set", "gateway.service.type=Headless", "gateway.service.type"),
    ("--set", "gateway.ingress.hosts[0].paths[0].pathType=Any",
     "gateway.ingress.hosts.0.paths.0.pathType"),
    ("--set", "order.resources.requests.cpu=lots", "order.resources.requests.cpu"),
    ("--set", "serviceMonitor.interval=soon", "serviceMonitor.interval"),
    ("--set", "gateway.podDisruptionBudget.maxUnavailable=-1",
     "gateway.podDisruptionBudget.maxUnavailable"),
    ("--set", "networkPolicy.gatewayFrom[0].namespace=ingress",
     "networkPolicy.gatewayFrom.0: Additional property namespace"),
    # YAML 1.1 reads an unquoted on as true: the mode must be the string "on".
    ("-f", "gateway:\n  auth:\n    mode: on\n", "gateway.auth.mode: Invalid type"),
    ("-f", "imagePullSecrets: regcred\n", "imagePullSecrets: Invalid type"),
]


def refusal(flag, value):
    """The error of `helm template` with one --set, or one values file of text value."""
    if flag == "--set":
        return helmlib.refusal(sets=[value])
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(value)
    try:
        return helmlib.refusal([f.name])
    finally:
        os.unlink(f.name)


class ValuesSchema(unittest.TestCase):

    def test_bad_values_are_refused_naming_the_key(self):
        for flag, value, message in BAD_VALUES:
            with self.subTest(value=value):
                error = refusal(flag, value)
                self.assertIn("don't meet the specifications of the schema", error)
                self.assertIn(message, error)

    def test_lint_refuses_them_too(self):
        res = helmlib.run("helm", "lint", "--strict", helmlib.CHART, "--set", "order.replicas=3",
                          check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("order: Additional property replicas is not allowed", res.stdout)

    def test_the_shipped_values_files_are_accepted(self):
        for values in ([], [helmlib.PODMAN_VALUES], [helmlib.CUSTOM_VALUES]):
            with self.subTest(values=values):
                helmlib.template(values)
                res = helmlib.run("helm", "lint", "--strict", helmlib.CHART,
                                  *helmlib.helm_args(values))
                self.assertIn("0 chart(s) failed", res.stdout)

    def test_good_edge_values_are_accepted(self):
        helmlib.template(sets=["gateway.replicaCount=0", "gateway.autoscaling.enabled=false",
                               "config.commitBatch=64", "gateway.podDisruptionBudget.minAvailable=50%",
                               "image.tag=1.2.3", "networkPolicy.gatewayFrom=null"])

    def test_every_object_in_the_schema_refuses_unknown_keys(self):
        with open(SCHEMA) as f:
            schema = json.load(f)
        open_objects = []

        def walk(node, path):
            if isinstance(node, dict):
                if node.get("type") == "object" and "properties" in node:
                    if node.get("additionalProperties") is not False:
                        open_objects.append(path)
                for key, value in node.items():
                    walk(value, path + "/" + key)
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    walk(value, "%s/%d" % (path, i))
        walk(schema, "")
        self.assertEqual(open_objects, [])
        self.assertIs(schema["additionalProperties"], False)


if __name__ == "__main__":
    unittest.main()
