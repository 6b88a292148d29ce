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
    ("networking.k8s.io/v1", "NetworkPolicy"), ("policy/v1", "PodDisruptionBudget"),
    ("v1", "Secret"),
}
# Custom resources the chart may render; kubectl's scheme does not know them, so they skip
# the typed round trip and are checked field by field below.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
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
    "Secret": {"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"},
    "NetworkPolicySpec": {"podSelector", "policyTypes", "ingress", "egress"},
    "NetworkPolicyIngressRule": {"from", "ports"},
    "NetworkPolicyPeer": {"podSelector", "namespaceSelector", "ipBlock"},
    "LabelSelector": {"matchLabels", "matchExpressions"},
    "PDBSpec": {"minAvailable", "maxUnavailable", "selector", "unhealthyPodEvictionPolicy"},
    # monitoring.coreos.com/v1 ServiceMonitor (Prometheus Operator CRD).
    "ServiceMonitorSpec": {"selector", "endpoints", "namespaceSelector", "jobLabel",
                           "targetLabels", "podTargetLabels", "sampleLimit"},
    "ServiceMonitorEndpoint": {"port", "targetPort", "path", "scheme", "interval",
                               "scrapeTimeout", "authorization", "bearerTokenSecret",
                               "tlsConfig", "honorLabels", "relabelings",
                               "metricRelabelings", "params"},
    "PVCSpec": {"accessModes", "storageClassName", "resources", "volumeMode", "selector",
                "volumeName", "dataSource", "dataSourceRef"},
}
ACCESS_MODES = {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"}


def without_crds(yaml_text):
    """The documents of yaml_text whose kinds kubectl's scheme knows (no CRD_KINDS)."""
    docs = re.split(r"(?m)^---\s*$", yaml_text)
    crd = ["kind: %s\n" % kind for _, kind in CRD_KINDS]
    return "\n---\n".join(d for d in docs if not any(c in d for c in crd))


def typed_decode(yaml_text):
    """Decodes every object with kubectl's typed scheme; returns (workload objects, stderr)."""
    yaml_text = without_crds(yaml_text)
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
                self.assertIn((o["apiVersion"], o["kind"]), KNOWN_KINDS | CRD_KINDS, label)

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

    def assert_selects(self, selector, pods, where):
        """selector is a valid LabelSelector that matches at least one of pods' labels."""
        self.assertLessEqual(set(selector), FIELDS["LabelSelector"], where)
        for expr in selector.get("matchExpressions", []):
            self.assertIn(expr["operator"], ("In", "NotIn", "Exists", "DoesNotExist"), where)
        matched = [p for p in pods if selector.get("matchLabels", {}).items() <= p.items()
                   and all(p.get(e["key"]) in e["values"]
                           for e in selector.get("matchExpressions", []))]
        self.assertTrue(matched, where)
        return matched

    def test_policies_budgets_monitors_and_secrets_are_well_formed(self):
        for label, _, objs in self.each_rendering():
            pods = [w["spec"]["template"]["metadata"]["labels"] for w in helmlib.workloads(objs)]
            services = [s["metadata"]["labels"] for s in helmlib.find(objs, "Service")]
            for sec in helmlib.find(objs, "Secret"):
                self.assertLessEqual(set(sec), FIELDS["Secret"], label)
                for key in sec["data"]:
                    self.assertRegex(key, CONFIGMAP_KEY, label)
            for pol in helmlib.find(objs, "NetworkPolicy"):
                spec = pol["spec"]
                where = "%s %s" % (label, pol["metadata"]["name"])
                self.assertLessEqual(set(spec), FIELDS["NetworkPolicySpec"], where)
                self.assertEqual(spec["policyTypes"], ["Ingress"], where)
                self.assert_selects(spec["podSelector"], pods, where)
                for rule in spec["ingress"]:
                    self.assertLessEqual(set(rule), FIELDS["NetworkPolicyIngressRule"], where)
                    for peer in rule["from"]:
                        self.assertTrue(peer, where)
                        self.assertLessEqual(set(peer), FIELDS["NetworkPolicyPeer"], where)
                    for port in rule["ports"]:
                        self.assertTrue(1 <= port["port"] <= 65535, where)
                        self.assertEqual(port["protocol"], "TCP", where)
            for pdb in helmlib.find(objs, "PodDisruptionBudget"):
                spec = pdb["spec"]
                self.assertLessEqual(set(spec), FIELDS["PDBSpec"], label)
                self.assertEqual(len({"minAvailable", "maxUnavailable"} & set(spec)), 1, label)
                self.assert_selects(spec["selector"], pods, label)
            for sm in helmlib.find(objs, "ServiceMonitor"):
                spec = sm["spec"]
                self.assertLessEqual(set(spec), FIELDS["ServiceMonitorSpec"], label)
                self.assert_selects(spec["selector"], services, label)
                for ep in spec["endpoints"]:
                    self.assertLessEqual(set(ep), FIELDS["ServiceMonitorEndpoint"], label)
                    self.assertRegex(ep["interval"], r"^[0-9]+(ms|s|m|h)$", label)
                    self.assertIn(ep["scheme"], ("http", "https"), label)
                    auth = ep.get("authorization")
                    if auth:
                        self.assertEqual(auth["type"], "Bearer", label)
                        self.assertEqual(set(auth["credentials"]), {"name", "key"}, label)

    def test_every_pod_goes_without_a_service_account_token(self):
        for label, _, objs in self.each_rendering():
            for w in helmlib.workloads(objs):
                self.assertIs(w["spec"]["template"]["spec"]["automountServiceAccountToken"],
                              False, "%s %s" % (label, w["metadata"]["name"]))

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
