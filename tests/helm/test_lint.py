"""helm lint and helm template succeed for the default values, tests/helm/values-custom.yaml
and the chart's values-podman.yaml."""
import unittest

import helmlib


class ChartLints(unittest.TestCase):
    def test_lint_passes_with_default_values(self):
        res = helmlib.run("helm", "lint", "--strict", helmlib.CHART)
        self.assertIn("0 chart(s) failed", res.stdout)

    def test_lint_passes_with_custom_values(self):
        res = helmlib.run("helm", "lint", "--strict", helmlib.CHART, "-f", helmlib.CUSTOM_VALUES)
        self.assertIn("0 chart(s) failed", res.stdout)

    def test_lint_passes_with_podman_values(self):
        res = helmlib.run("helm", "lint", "--strict", helmlib.CHART, "-f", helmlib.PODMAN_VALUES)
        self.assertIn("0 chart(s) failed", res.stdout)

    def test_template_renders_default_values(self):
        objs = helmlib.render()
        kinds = sorted({o["kind"] for o in objs})
        self.assertEqual(kinds, ["ConfigMap", "Deployment", "HorizontalPodAutoscaler",
                                 "NetworkPolicy", "PodDisruptionBudget", "Secret", "Service",
                                 "StatefulSet"])

    def test_template_renders_custom_values(self):
        objs = helmlib.render([helmlib.CUSTOM_VALUES])
        self.assertEqual(len(helmlib.find(objs, "Ingress")), 1)

    def test_unknown_auth_mode_is_refused(self):
        res = helmlib.run("helm", "template", "hb", helmlib.CHART,
                          "--set", "gateway.auth.mode=off", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("gateway.auth.mode", res.stderr)


if __name__ == "__main__":
    unittest.main()
