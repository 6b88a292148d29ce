"""Every rendered object checked against the Kubernetes 1.30 API, offline.

Without a cluster `kubectl create --dry-run=client --validate` cannot fetch the OpenAPI
schema, so the checks are: (1) `kubectl set env --local` decodes every object into
kubectl's own typed Go structs (wrong types and apiVersion/kind pairs it does not know
fail there), (2) for workloads the typed output must still hold every field we rendered
(a field the API does not know is dropped by that decode), (3) required fields, names,
references and field sets asserted here for the other kinds.
"""
import os
import re
import tempfile
import unittest

import helmlib

# apiVersion/kind pairs served by Kubernetes 1.30 that the chart may render.
KNOWN_KINDS = {
    ("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io/v1", "Ingress"), ("v1", "PersistentVolumeClaim"),
}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# Top-level field sets of the kinds the typed round trip does not cover.
FIELDS = {
    "ConfigMap": {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"},
    "ServiceSpec": {"type", "selector", "ports", "clusterIP", "clusterIPs", "sessionAffinity",
                    "externalTrafficPolicy", "internalTrafficPolicy", "ipFamilies",
                    "ipFamilyPolicy", "publishNotReadyAddresses", "loadBalancerClass"},
    "ServicePort": {"name", "port", "targetPort", "protocol", "appProtocol", "nodePort"},
    "HPASpec": {"scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior"},
    "IngressSpec": {"ingressClassName", "defaultBackend", "tls", "rules"},
    "PVCSpec": {"accessModes", "storageClassName", "resources", "volumeMode", "selector",
                "volumeName", "dataSource", "dataSourceRef"},
}
ACCESS_MODES = {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"}


def typed_decode(yaml_text):
    """Decodes every object with kubectl's typed scheme; returns (workload objects, stderr)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(yaml_text)
    try:
        res = helmlib.run("kubectl", "set", "env", "--local", "-f", f.name,
                          "HAUSBUS_SCHEMA_CHECK=1", "-o", "json", check=False)
    finally:
        os.unlink(f.name)
    return helmlib.decode_stream(res.stdout), res.stderr


def missing_paths(rendered, typed, path=""):
    """Paths present in rendered but lost in typed (an unknown field or a wrong shape)."""
    if isinstance(rendered, dict):
        if not isinstance(typed, dict):
            return [path]
        lost = []
        for key, value in rendered.items():
            if key not in typed:
                if value not in ({}, [], None):
                    lost.append(path + "." + key)
                continue
            lost += missing_paths(value, typed[key], path + "." + key)
        return lost
    if isinstance(rendered, list):
        if not isinstance(typed, list) or len(typed) < len(rendered):
            return [path]
        lost = []
        for i, value in enumerate(rendered):
            lost += missing_paths(value, typed[i], "%s[%d]" % (path, i))
        return lost
    return [] if rendered == typed else [path + " (%r != %r)" % (rendered, typed)]


class Schema(unittest.TestCase):
    CASES = {"default": [], "custom": [helmlib.CUSTOM_VALUES],
             "podman": [helmlib.PODMAN_VALUES]}

    def each_rendering(self):
        for label, values in self.CASES.items():
            text = helmlib.template(values)
            yield label, text, helmlib.yaml_to_objects(text)

    def test_kubectl_decodes_every_object_into_typed_structs(self):
        for label, text, objs in self.each_rendering():
            typed, stderr = typed_decode(text)
            self.assertNotIn("unable to decode", stderr, label)
            self.assertNotIn("is registered", stderr, label)
            # Objects without a pod template decode fine and are then refused by `set env`.
            for message in stderr.split("error:")[1:]:
                self.assertIn("does not have a pod template", message, label)
            self.assertEqual(len(typed), len(helmlib.workloads(objs)), label)
            by_name = {(o["kind"], o["metadata"]["name"]): o for o in typed}
            for w in helmlib.workloads(objs):
                got = by_name[(w["kind"], w["metadata"]["name"])]
                self.assertEqual(missing_paths(w, got), [], "%s %s" % (label, w["metadata"]))

    def test_kinds_are_known_to_kubernetes_1_30(self):
        for label, _, objs in self.each_rendering():
            for o in objs:
                self.assertIn((o["apiVersion"], o["kind"]), KNOWN_KINDS, label)

    def test_names_and_labels_are_valid(self):
        for label, _, objs in self.each_rendering():
            seen = set()
            for o in objs:
                name = o["metadata"]["name"]
                self.assertRegex(name, DNS_LABEL if o["kind"] == "Service" else DNS_SUBDOMAIN)
                self.assertLessEqual(len(name), 63)
                self.assertNotIn((o["kind"], name), seen, label)
                seen.add((o["kind"], name))
                labels = dict(o["metadata"].get("labels", {}))
                if "template" in o.get("spec", {}):
                    labels.update(o["spec"]["template"]["metadata"]["labels"])
                for value in labels.values():
                    self.assertIsInstance(value, str)
                    self.assertRegex(value, LABEL_VALUE)
                    self.assertLessEqual(len(value), 63)

    def test_configmaps_hold_string_data_under_valid_keys(self):
        for _, _, objs in self.each_rendering():
            for cm in helmlib.find(objs, "ConfigMap"):
                self.assertLessEqual(set(cm), FIELDS["ConfigMap"])
                for key, value in cm["data"].items():
                    self.assertRegex(key, CONFIGMAP_KEY)
                    self.assertIsInstance(value, str)

    def test_claims_request_storage_with_a_valid_access_mode(self):
        for label, _, objs in self.each_rendering():
            for pvc in helmlib.find(objs, "PersistentVolumeClaim"):
                spec = pvc["spec"]
                self.assertLessEqual(set(spec), FIELDS["PVCSpec"], label)
                self.assertTrue(spec["accessModes"], label)
                self.assertLessEqual(set(spec["accessModes"]), ACCESS_MODES, label)
                self.assertRegex(spec["resources"]["requests"]["storage"], QUANTITY, label)

    def test_services_have_valid_ports_and_selectors(self):
        for _, _, objs in self.each_rendering():
            for svc in helmlib.find(objs, "Service"):
                spec = svc["spec"]
                self.assertLessEqual(set(spec), FIELDS["ServiceSpec"])
                self.assertTrue(spec["selector"])
                if spec.get("clusterIP") != "None":
                    self.assertTrue(spec.get("ports"), svc["metadata"]["name"])
                for port in spec.get("ports", []):
                    self.assertLessEqual(set(port), FIELDS["ServicePort"])
                    self.assertTrue(1 <= port["port"] <= 65535)
                    self.assertRegex(port["name"], DNS_LABEL)
                    self.assertIn(port.get("protocol", "TCP"), ("TCP", "UDP", "SCTP"))

    def test_workloads_are_consistent(self):
        for label, _, objs in self.each_rendering():
            services = {s["metadata"]["name"]: s for s in helmlib.find(objs, "Service")}
            configmaps = {c["metadata"]["name"] for c in helmlib.find(objs, "ConfigMap")}
            claims = {c["metadata"]["name"] for c in helmlib.find(objs, "PersistentVolumeClaim")}
            for w in helmlib.workloads(objs):
                spec = w["spec"]
                pod = spec["template"]["spec"]
                where = "%s %s" % (label, w["metadata"]["name"])
                self.assertLessEqual(spec["selector"]["matchLabels"].items(),
                                     spec["template"]["metadata"]["labels"].items(), where)
                if w["kind"] == "StatefulSet":
                    self.assertIn(spec["serviceName"], services, where)
                volumes = {v["name"] for v in pod.get("volumes", [])}
                volumes |= {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
                for claim in spec.get("volumeClaimTemplates", []):
                    self.assertRegex(claim["spec"]["resources"]["requests"]["storage"],
                                     QUANTITY)
                for v in pod.get("volumes", []):
                    if "configMap" in v:
                        self.assertIn(v["configMap"]["name"], configmaps, where)
                    if "persistentVolumeClaim" in v:
                        self.assertIn(v["persistentVolumeClaim"]["claimName"], claims, where)
                self.assertTrue(pod["containers"], where)
                for c in pod["containers"]:
                    self.assertRegex(c["name"], DNS_LABEL)
                    self.assertTrue(c["image"], where)
                    for m in c.get("volumeMounts", []):
                        self.assertIn(m["name"], volumes, where)
                        self.assertTrue(m["mountPath"].startswith("/"), where)
                    for ref in c.get("envFrom", []):
                        self.assertIn(ref["configMapRef"]["name"], configmaps, where)
                    port_names = set()
                    for p in c.get("ports", []):
                        self.assertRegex(p["name"], IANA_SVC_NAME)
                        self.assertLessEqual(len(p["name"]), 15)
                        port_names.add(p["name"])
                    for kind in ("livenessProbe", "readinessProbe"):
                        probe = c[kind]
                        handlers = {"exec", "httpGet", "tcpSocket", "grpc"} & set(probe)
                        self.assertEqual(len(handlers), 1, where)
                        for h in ("httpGet", "tcpSocket"):
                            port = probe.get(h, {}).get("port")
                            if isinstance(port, str):
                                self.assertIn(port, port_names, where)
                    for part in ("requests", "limits"):
                        for value in c["resources"][part].values():
                            self.assertRegex(str(value), QUANTITY, where)

    def test_hpa_and_ingress_reference_rendered_objects(self):
        for label, _, objs in self.each_rendering():
            names = {(o["kind"], o["metadata"]["name"]) for o in objs}
            for hpa in helmlib.find(objs, "HorizontalPodAutoscaler"):
                spec = hpa["spec"]
                self.assertLessEqual(set(spec), FIELDS["HPASpec"])
                ref = spec["scaleTargetRef"]
                self.assertIn((ref["kind"], ref["name"]), names, label)
                self.assertTrue(1 <= spec["minReplicas"] <= spec["maxReplicas"])
                for metric in spec["metrics"]:
                    self.assertIn(metric["type"], ("Resource", "Pods", "Object", "External",
                                                   "ContainerResource"))
            services = {s["metadata"]["name"]: s for s in helmlib.find(objs, "Service")}
            for ing in helmlib.find(objs, "Ingress"):
                self.assertLessEqual(set(ing["spec"]), FIELDS["IngressSpec"])
                for rule in ing["spec"]["rules"]:
                    for path in rule["http"]["paths"]:
                        self.assertIn(path["pathType"], ("Exact", "Prefix",
                                                         "ImplementationSpecific"))
                        self.assertTrue(path["path"].startswith("/"))
                        backend = path["backend"]["service"]
                        svc = services[backend["name"]]
                        self.assertIn(backend["port"]["name"],
                                      {p["name"] for p in svc["spec"]["ports"]})

    def test_the_checker_notices_an_unknown_field(self):
        """The round trip really drops what the API does not know (guards the first test)."""
        text = helmlib.template().replace("imagePullPolicy:", "imagePulPolicy:", 1)
        typed, _ = typed_decode(text)
        objs = helmlib.yaml_to_objects(text)
        lost = []
        for w in helmlib.workloads(objs):
            got = [t for t in typed if t["metadata"]["name"] == w["metadata"]["name"]
                   and t["kind"] == w["kind"]][0]
            lost += missing_paths(w, got)
        self.assertEqual(len(lost), 1, lost)
        self.assertIn("imagePulPolicy", lost[0])


if __name__ == "__main__":
    unittest.main()
