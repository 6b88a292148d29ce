"""The per-workload ConfigMaps of HAUSBUS_* settings, envFrom, and the checksum/config roll."""
import unittest

import helmlib

COMMON_KEYS = {"HAUSBUS_MQTT_HOST", "HAUSBUS_MQTT_PORT", "HAUSBUS_DATA_DIR",
               "HAUSBUS_LOG_LEVEL", "HAUSBUS_REDRIVE_MS", "HAUSBUS_REQUEST_TIMEOUT_MS",
               "HAUSBUS_COMMIT_BATCH", "HAUSBUS_BUS_BATCH", "HAUSBUS_PAYMENT_LIMIT"}
GATEWAY_KEYS = {"HAUSBUS_HTTP_BIND", "HAUSBUS_HTTP_PORT", "HAUSBUS_AUTH"}


def checksum(objs, name):
    kind = "Deployment" if name == "gateway" else "StatefulSet"
    w = helmlib.one(objs, kind, name)
    return w["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


class ConfigMaps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.default = helmlib.render()
        cls.custom = helmlib.render([helmlib.CUSTOM_VALUES])

    def data(self, objs, name):
        return helmlib.one(objs, "ConfigMap", name)["data"]

    def test_every_workload_has_hausbus_settings(self):
        for name in helmlib.COMPONENTS + ("gateway",):
            data = self.data(self.default, name)
            self.assertTrue(COMMON_KEYS <= set(data), name)
            self.assertTrue(all(k.startswith("HAUSBUS_") for k in data), name)
            self.assertTrue(all(isinstance(v, str) for v in data.values()), name)
        self.assertTrue(GATEWAY_KEYS <= set(self.data(self.default, "gateway")))

    def test_components_reach_the_broker_service(self):
        broker = helmlib.one(self.default, "Service", "mosquitto")
        for name in helmlib.COMPONENTS + ("gateway",):
            data = self.data(self.default, name)
            self.assertEqual(data["HAUSBUS_MQTT_HOST"], broker["metadata"]["name"])
            self.assertEqual(data["HAUSBUS_MQTT_PORT"], "1883")

    def test_gateway_binds_all_addresses_on_8080_with_tokens_on(self):
        data = self.data(self.default, "gateway")
        self.assertEqual(data["HAUSBUS_HTTP_BIND"], "0.0.0.0")
        self.assertEqual(data["HAUSBUS_HTTP_PORT"], "8080")
        self.assertEqual(data["HAUSBUS_AUTH"], "on")
        self.assertEqual(data["HAUSBUS_AUTH_SECRET_FILE"], "/etc/hausbus/auth/secret")

    def test_open_mode_names_no_secret(self):
        data = self.data(helmlib.render(sets=["gateway.auth.mode=open"]), "gateway")
        self.assertEqual(data["HAUSBUS_AUTH"], "open")
        self.assertNotIn("HAUSBUS_AUTH_SECRET_FILE", data)

    def test_log_level_is_per_component(self):
        self.assertEqual(self.data(self.custom, "order")["HAUSBUS_LOG_LEVEL"], "debug")
        self.assertEqual(self.data(self.custom, "view")["HAUSBUS_LOG_LEVEL"], "warn")
        self.assertEqual(self.data(self.custom, "gateway")["HAUSBUS_LOG_LEVEL"], "error")
        self.assertEqual(self.data(self.custom, "product")["HAUSBUS_LOG_LEVEL"], "info")

    def test_pods_read_their_own_configmap_through_envfrom(self):
        for w, c in helmlib.containers(self.default):
            if c["name"] == "mosquitto":
                continue
            self.assertEqual(c["envFrom"], [{"configMapRef": {"name": w["metadata"]["name"]}}])

    def test_changing_a_log_level_rolls_only_that_pod(self):
        changed = helmlib.render(sets=["order.logLevel=debug"])
        self.assertNotEqual(checksum(self.default, "order"), checksum(changed, "order"))
        for name in ("product", "payment", "gateway"):
            self.assertEqual(checksum(self.default, name), checksum(changed, name), name)

    def test_changing_a_shared_setting_rolls_every_pod(self):
        changed = helmlib.render(sets=["config.redriveMs=1234"])
        for name in helmlib.COMPONENTS + ("gateway",):
            self.assertEqual(self.data(changed, name)["HAUSBUS_REDRIVE_MS"], "1234")
            self.assertNotEqual(checksum(self.default, name), checksum(changed, name), name)

    def test_auth_on_mounts_the_existing_secret_as_a_file(self):
        data = self.data(self.custom, "gateway")
        self.assertEqual(data["HAUSBUS_AUTH"], "on")
        self.assertEqual(data["HAUSBUS_AUTH_SECRET_FILE"], "/etc/hausbus/auth/signing-key")
        pod = helmlib.one(self.custom, "Deployment", "gateway")["spec"]["template"]["spec"]
        secret = [v for v in pod["volumes"] if "secret" in v and v["name"] == "auth"]
        self.assertEqual(len(secret), 1)
        self.assertEqual(secret[0]["secret"]["secretName"], "hausbus-auth")
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        self.assertEqual(mounts[secret[0]["name"]]["mountPath"], "/etc/hausbus/auth")
        self.assertTrue(mounts[secret[0]["name"]]["readOnly"])

    def test_kakao_url_and_token_file_reach_only_the_notification_pod(self):
        objs = helmlib.render(sets=["kakao.url=https://kapi.example/send",
                                    "kakao.existingSecret=kakao", "kakao.secretKey=access",
                                    "kakao.orderUrlBase=https://shop.example/orders"])
        data = self.data(objs, "notification")
        self.assertEqual(data["HAUSBUS_KAKAO_URL"], "https://kapi.example/send")
        self.assertEqual(data["HAUSBUS_KAKAO_TOKEN_FILE"], "/etc/hausbus/kakao/access")
        self.assertEqual(data["HAUSBUS_ORDER_URL_BASE"], "https://shop.example/orders")
        pod = helmlib.one(objs, "StatefulSet", "notification")["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(volumes["kakao-token"]["secret"]["secretName"], "kakao")
        self.assertEqual(volumes["kakao-token"]["secret"]["items"],
                         [{"key": "access", "path": "access"}])
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        self.assertEqual(mounts["kakao-token"]["mountPath"], "/etc/hausbus/kakao")
        for name in ("order", "gateway"):
            self.assertNotIn("HAUSBUS_KAKAO_URL", self.data(objs, name))
        self.assertNotIn("HAUSBUS_KAKAO_URL", self.data(self.default, "notification"))

    def test_kakao_url_without_a_token_secret_is_refused(self):
        res = helmlib.run("helm", "template", "hb", helmlib.CHART,
                          "--set", "kakao.url=https://kapi.example/send", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("kakao.existingSecret", res.stderr)

    def test_broker_config_listens_on_every_address_with_persistence_on_its_volume(self):
        conf = helmlib.one(self.default, "ConfigMap", "mosquitto")["data"]["mosquitto.conf"]
        lines = conf.splitlines()
        self.assertIn("listener 1883", lines)
        self.assertIn("persistence true", lines)
        self.assertIn("persistence_location /mosquitto/data/", lines)
        self.assertIn("set_tcp_nodelay true", lines)


if __name__ == "__main__":
    unittest.main()
