"""The chart's defaults are the secure ones (broker credentials + ACL, gateway tokens, secrets
generated or taken from existing Secrets, NetworkPolicies, a disruption budget, no service
account tokens); open mode only when asked for, and then NOTES says so."""
import base64
import unittest

import helmlib

CLIENTS = helmlib.COMPONENTS + ("gateway",)


def pod_labels(objs, name):
    w = [w for w in helmlib.workloads(objs)
         if w["metadata"]["name"] == "%s-hausbus-%s" % (helmlib.RELEASE, name)][0]
    return w["spec"]["template"]["metadata"]["labels"]


def selects(selector, labels):
    """Kubernetes LabelSelector semantics (the operators the chart uses)."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        if expr["operator"] != "In":
            raise AssertionError("unexpected operator %r" % expr["operator"])
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


class SecureDefaults(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.objs = helmlib.render()

    def test_the_broker_refuses_anonymous_clients_by_default(self):
        conf = helmlib.one(self.objs, "ConfigMap", "mosquitto")["data"]["mosquitto.conf"]
        self.assertIn("\nallow_anonymous false\n", conf)
        self.assertNotIn("allow_anonymous true", conf)
        self.assertIn("\npassword_file /etc/mosquitto-auth/passwd\n", conf)
        self.assertIn("\nacl_file /etc/mosquitto/acl\n", conf)
        for user in CLIENTS:
            env = helmlib.one(self.objs, "ConfigMap", user)["data"]
            self.assertEqual(env["HAUSBUS_MQTT_USERNAME"], user)

    def test_tokens_are_on_with_a_generated_signing_key(self):
        env = helmlib.one(self.objs, "ConfigMap", "gateway")["data"]
        self.assertEqual(env["HAUSBUS_AUTH"], "on")
        self.assertEqual(env["HAUSBUS_AUTH_SECRET_FILE"], "/etc/hausbus/auth/secret")
        secret = helmlib.one(self.objs, "Secret", "auth")
        key = base64.b64decode(secret["data"]["secret"]).decode()
        self.assertRegex(key, r"^[A-Za-z0-9]{64}$")  # 32..256 bytes (docs/SECURITY.md)
        pod = helmlib.one(self.objs, "Deployment", "gateway")["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(volumes["auth"]["secret"]["secretName"], "hb-hausbus-auth")

    def test_existing_secrets_replace_the_generated_ones(self):
        objs = helmlib.render(sets=["mosquitto.auth.existingSecret=mine-mqtt",
                                    "gateway.auth.existingSecret=mine-auth"])
        self.assertEqual(helmlib.find(objs, "Secret"), [])
        referenced = set()
        for w in helmlib.workloads(objs):
            pod = w["spec"]["template"]["spec"]
            referenced |= {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
            self.assertNotIn("initContainers", pod)
        self.assertEqual(referenced, {"mine-mqtt", "mine-auth"})

    def test_open_mode_only_when_asked_and_notes_warn(self):
        secure = helmlib.notes()
        self.assertNotIn("WARNING", secure)
        self.assertIn("hausbus-token --role admin", secure)
        gateway_open = helmlib.notes(sets=["gateway.auth.mode=open"])
        self.assertIn("WARNING: OPEN MODE. gateway.auth.mode is \"open\"", gateway_open)
        self.assertNotIn("mosquitto.auth.enabled is false", gateway_open)
        broker_open = helmlib.notes(sets=["mosquitto.auth.enabled=false"])
        self.assertIn("WARNING: OPEN MODE. mosquitto.auth.enabled is false", broker_open)
        podman = helmlib.notes([helmlib.PODMAN_VALUES])
        self.assertEqual(podman.count("WARNING: OPEN MODE"), 2)

    def test_no_pod_gets_a_service_account_token(self):
        for w in helmlib.workloads(self.objs):
            self.assertIs(w["spec"]["template"]["spec"]["automountServiceAccountToken"], False,
                          w["metadata"]["name"])

    def test_only_the_gateway_and_the_components_reach_the_broker(self):
        pol = helmlib.one(self.objs, "NetworkPolicy", "mosquitto")["spec"]
        self.assertTrue(selects(pol["podSelector"], pod_labels(self.objs, "mosquitto")))
        rule, = pol["ingress"]
        self.assertEqual(rule["ports"], [{"port": 1883, "protocol": "TCP"}])
        peer, = rule["from"]
        self.assertEqual(set(peer), {"podSelector"}, "no other namespace")
        for name in CLIENTS:
            self.assertTrue(selects(peer["podSelector"], pod_labels(self.objs, name)), name)
        self.assertFalse(selects(peer["podSelector"], pod_labels(self.objs, "mosquitto")))
        other_release = dict(pod_labels(self.objs, "gateway"),
                             **{"app.kubernetes.io/instance": "other"})
        self.assertFalse(selects(peer["podSelector"], other_release))

    def test_nothing_reaches_the_components(self):
        pol = helmlib.one(self.objs, "NetworkPolicy", "components")["spec"]
        self.assertEqual(pol["policyTypes"], ["Ingress"])
        self.assertEqual(pol.get("ingress", []), [])
        for name in helmlib.COMPONENTS:
            self.assertTrue(selects(pol["podSelector"], pod_labels(self.objs, name)), name)
        for name in ("gateway", "mosquitto"):
            self.assertFalse(selects(pol["podSelector"], pod_labels(self.objs, name)), name)

    def test_only_the_ingress_controller_reaches_the_gateway(self):
        pol = helmlib.one(self.objs, "NetworkPolicy", "gateway")["spec"]
        self.assertTrue(selects(pol["podSelector"], pod_labels(self.objs, "gateway")))
        rule, = pol["ingress"]
        self.assertEqual(rule["ports"], [{"port": 8080, "protocol": "TCP"}])
        self.assertEqual(rule["from"], [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "ingress-nginx"}}}])
        custom = helmlib.one(helmlib.render([helmlib.CUSTOM_VALUES]), "NetworkPolicy",
                             "gateway")["spec"]["ingress"]
        self.assertEqual(len(custom[0]["from"]), 1)
        self.assertEqual(custom[0]["from"][0]["podSelector"]["matchLabels"],
                         {"app.kubernetes.io/name": "ingress-nginx"})
        closed = helmlib.one(helmlib.render(sets=["networkPolicy.gatewayFrom=null"]),
                             "NetworkPolicy", "gateway")["spec"]
        self.assertEqual(closed.get("ingress", []), [])

    def test_prometheus_reaches_the_gateway_while_the_service_monitor_is_on(self):
        """Without its own rule a default NetworkPolicy would block the ServiceMonitor's
        scrapes: metricsFrom is admitted to the gateway's port only while it is on."""
        def gateway_rules(values=(), sets=()):
            return helmlib.one(helmlib.render(list(values), sets=list(sets)), "NetworkPolicy",
                               "gateway")["spec"]["ingress"]

        def namespaces(rule):
            return [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    for peer in rule["from"]]

        self.assertEqual([namespaces(r) for r in gateway_rules()], [["ingress-nginx"]])
        on = gateway_rules(sets=["serviceMonitor.enabled=true", "gateway.auth.mode=open"])
        self.assertEqual([namespaces(r) for r in on], [["ingress-nginx"], ["monitoring"]])
        self.assertEqual(on[1]["ports"], [{"port": 8080, "protocol": "TCP"}])
        custom = gateway_rules([helmlib.CUSTOM_VALUES])
        self.assertEqual(namespaces(custom[1]), ["observability"])
        only_metrics = gateway_rules(sets=["serviceMonitor.enabled=true", "gateway.auth.mode=open",
                                           "networkPolicy.gatewayFrom=null"])
        self.assertEqual([namespaces(r) for r in only_metrics], [["monitoring"]])

    def test_the_gateway_has_a_disruption_budget(self):
        pdb = helmlib.one(self.objs, "PodDisruptionBudget", "gateway")["spec"]
        self.assertEqual(pdb["maxUnavailable"], 1)
        self.assertNotIn("minAvailable", pdb)
        self.assertTrue(selects(pdb["selector"], pod_labels(self.objs, "gateway")))
        custom = helmlib.one(helmlib.render([helmlib.CUSTOM_VALUES]), "PodDisruptionBudget",
                             "gateway")["spec"]
        self.assertEqual((custom["minAvailable"], custom.get("maxUnavailable")), (1, None))

    def test_the_service_monitor_is_off_by_default_and_scrapes_with_the_admin_token(self):
        self.assertEqual(helmlib.find(self.objs, "ServiceMonitor"), [])
        sm = helmlib.one(helmlib.render([helmlib.CUSTOM_VALUES]), "ServiceMonitor", "gateway")
        self.assertEqual(sm["metadata"]["labels"]["release"], "prometheus")
        ep, = sm["spec"]["endpoints"]
        self.assertEqual((ep["port"], ep["path"], ep["interval"]),
                         ("http-gateway", "/metrics", "15s"))
        self.assertEqual(ep["authorization"], {"type": "Bearer", "credentials": {
            "name": "hausbus-metrics-token", "key": "admin-token"}})
        svc = helmlib.one(helmlib.render([helmlib.CUSTOM_VALUES]), "Service", "gateway")
        self.assertTrue(selects(sm["spec"]["selector"], svc["metadata"]["labels"]))
        open_mode = helmlib.one(helmlib.render(sets=["serviceMonitor.enabled=true",
                                                     "gateway.auth.mode=open"]),
                                "ServiceMonitor", "gateway")
        self.assertNotIn("authorization", open_mode["spec"]["endpoints"][0])

    def test_a_service_monitor_without_a_token_is_refused_when_tokens_are_on(self):
        self.assertIn("serviceMonitor.tokenSecret.name",
                      helmlib.refusal(sets=["serviceMonitor.enabled=true"]))


if __name__ == "__main__":
    unittest.main()
