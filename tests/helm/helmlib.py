"""Shared helpers of the chart tests: fetch helm/kubectl once, render the chart, parse it offline."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHART = os.path.join(ROOT, "helm", "hausbus")
CUSTOM_VALUES = os.path.join(HERE, "values-custom.yaml")
# The chart's own values for `podman kube play` on one machine (Deployments, host network).
PODMAN_VALUES = os.path.join(CHART, "values-podman.yaml")
COMPONENTS = ("order", "product", "payment", "delivery", "notification", "view")
RELEASE = "hb"

_bin_dir = None


def bin_dir():
    """Directory holding helm and kubectl (tests/helm/get-helm.sh fetches them once)."""
    global _bin_dir
    if _bin_dir is None:
        out = subprocess.run(["sh", os.path.join(HERE, "get-helm.sh")], capture_output=True,
                             text=True, timeout=280)
        if out.returncode != 0:
            raise unittest.SkipTest("helm/kubectl unavailable: " + out.stderr.strip())
        _bin_dir = out.stdout.strip().splitlines()[-1]
    return _bin_dir


def run(tool, *args, stdin=None, check=True):
    """Runs helm or kubectl without any cluster: an empty kubeconfig, no network needed."""
    env = dict(os.environ, KUBECONFIG=os.devnull)
    res = subprocess.run([os.path.join(bin_dir(), tool), *args], input=stdin,
                         capture_output=True, text=True, timeout=120, env=env)
    if check and res.returncode != 0:
        raise AssertionError("%s %s failed (%d):\n%s" % (tool, " ".join(args), res.returncode,
                                                         res.stderr))
    return res


def helm_args(values=(), sets=()):
    args = []
    for v in values:
        args += ["-f", v]
    for s in sets:
        args += ["--set", s]
    return args


def template(values=(), sets=()):
    """The chart rendered as YAML text."""
    return run("helm", "template", RELEASE, CHART, "--namespace", "shop",
               *helm_args(values, sets)).stdout


def refusal(values=(), sets=()):
    """The error of a `helm template` that must fail (AssertionError if it renders)."""
    res = run("helm", "template", RELEASE, CHART, *helm_args(values, sets), check=False)
    if res.returncode == 0:
        raise AssertionError("helm template accepted %r %r" % (values, sets))
    return res.stderr


def notes(values=(), sets=()):
    """templates/NOTES.txt rendered: `helm template` leaves it out and `helm install
    --dry-run` needs a cluster, so a copy of the chart renders it through `tpl` in a
    ConfigMap."""
    tmp = tempfile.mkdtemp(prefix="hausbus-notes-")
    try:
        chart = os.path.join(tmp, "hausbus")
        shutil.copytree(CHART, chart)
        shutil.copy(os.path.join(chart, "templates", "NOTES.txt"),
                    os.path.join(chart, "notes.txt"))
        with open(os.path.join(chart, "templates", "notes-test.yaml"), "w") as f:
            f.write('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n'
                    '  notes: {{ tpl (.Files.Get "notes.txt") . | quote }}\n')
        out = run("helm", "template", RELEASE, chart, "--namespace", "shop",
                  "--show-only", "templates/notes-test.yaml", *helm_args(values, sets)).stdout
        return yaml_to_objects(out)[0]["data"]["notes"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def decode_stream(text):
    """Every JSON object in text (kubectl prints one object after another, not a list)."""
    dec = json.JSONDecoder()
    objs, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return objs
        obj, pos = dec.raw_decode(text, pos)
        objs.append(obj)


def yaml_to_objects(yaml_text):
    """Parses multi-document YAML into dicts offline: `kubectl annotate --local` reads files
    without a server, and removing an annotation that is not there changes nothing."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(yaml_text)
    try:
        out = run("kubectl", "annotate", "--local", "-f", f.name, "hausbus.test/none-",
                  "-o", "json").stdout
    finally:
        os.unlink(f.name)
    objs = decode_stream(out)
    for obj in objs:
        if obj.get("metadata", {}).get("annotations") == {}:
            del obj["metadata"]["annotations"]
    return objs


def render(values=(), sets=()):
    """The chart rendered and parsed: a list of Kubernetes objects as dicts."""
    return yaml_to_objects(template(values, sets))


def find(objs, kind, name=None):
    """The objects of one kind (and name suffix, e.g. "order" for hb-hausbus-order)."""
    found = [o for o in objs if o["kind"] == kind
             and (name is None or o["metadata"]["name"] == "%s-hausbus-%s" % (RELEASE, name))]
    return found


def one(objs, kind, name):
    found = find(objs, kind, name)
    if len(found) != 1:
        raise AssertionError("expected one %s %s, found %d" % (kind, name, len(found)))
    return found[0]


def workloads(objs):
    return [o for o in objs if o["kind"] in ("Deployment", "StatefulSet")]


def containers(objs):
    """(workload, container) for every container of every workload."""
    for w in workloads(objs):
        for c in w["spec"]["template"]["spec"]["containers"]:
            yield w, c
