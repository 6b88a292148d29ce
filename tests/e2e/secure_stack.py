# Broker credentials and TLS for the e2e tests: broker/gen-*.sh and MQTT clients that log in.
"""Helpers for test_access.py and test_tls.py (stdlib only).

    creds = Credentials.generate(tmp_dir)       # broker/gen-credentials.sh --operator
    Stack(broker_conf_extra=creds.broker_conf(), process_env=creds.process_env())

Every subprocess call is bounded in time; everything stays on 127.0.0.1.
"""
import json
import os
import re
import subprocess
import threading

from hausbus_harness import PROCESSES, MessageCollector

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROKER_DIR = os.path.join(REPO, "broker")
SCRIPT_TIMEOUT_S = 60
CLIENT_TIMEOUT_S = 10
# The gateway's bearer tokens are another suite's subject; these tests talk to it openly.
OPEN_GATEWAY_ENV = {"HAUSBUS_AUTH": "open"}


def run_script(name, *args):
    """Runs broker/<name> with args; returns its CompletedProcess or raises with its stderr."""
    proc = subprocess.run([os.path.join(BROKER_DIR, name)] + list(args), capture_output=True,
                          text=True, timeout=SCRIPT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError("%s %s exited %d: %s" % (name, args, proc.returncode, proc.stderr))
    return proc


class Credentials:
    """What broker/gen-credentials.sh wrote into a directory."""

    def __init__(self, out_dir):
        self.dir = out_dir

    @classmethod
    def generate(cls, out_dir, operator=True):
        run_script("gen-credentials.sh", *(["--operator"] if operator else []), out_dir)
        return cls(out_dir)

    def env_file(self, user):
        """The variables of <user>.env as a dict."""
        env = {}
        with open(os.path.join(self.dir, user + ".env")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    env[key] = value
        return env

    def password(self, user):
        with open(os.path.join(self.dir, "secrets", user + ".password")) as f:
            return f.readline().strip()

    def broker_conf(self):
        """The lines of the generated mosquitto/auth.conf, comments left out."""
        with open(os.path.join(self.dir, "mosquitto", "auth.conf")) as f:
            return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]

    def process_env(self):
        """Stack's process_env: each process logs in as itself."""
        return {name: self.env_file(name) for name in PROCESSES}

    def login(self, user):
        """mosquitto_pub/mosquitto_sub arguments logging in as user."""
        return ["-u", user, "-P", self.password(user)]


def mqtt_pub(port, topic, payload, login=(), qos=1, version="mqttv5", tls=()):
    """One mosquitto_pub; returns the CompletedProcess (not checked: a refusal is what some
    tests look for). payload is a str."""
    return subprocess.run(["mosquitto_pub", "-V", version, "-h", "127.0.0.1", "-p", str(port),
                           "-q", str(qos), "-t", topic, "-m", payload] + list(login) + list(tls),
                          capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)


class Subscriber(MessageCollector):
    """A mosquitto_sub process (MQTT v5, optionally logged in) collecting messages.

    Returns from the constructor once the broker has answered the SUBSCRIBE (SUBACK): any
    message published after that is routed to it. granted holds the SUBACK reason codes
    (0-2 granted QoS, 128 or more refused). Messages are dicts {"topic", "payload"}.
    """

    def __init__(self, port, topics, login=(), timeout=5.0):
        if isinstance(topics, str):
            topics = [topics]
        self._cond = threading.Condition()
        self._messages = []
        self.granted = None
        self._error = None
        # Line-buffered: mosquitto_sub's -d lines would otherwise wait in its stdio buffer.
        args = ["stdbuf", "-oL", "mosquitto_sub", "-V", "mqttv5", "-h", "127.0.0.1",
                "-p", str(port), "-q", "1", "-d", "-F", "%j"] + list(login)
        for t in topics:
            args += ["-t", t]
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        with self._cond:
            if not self._cond.wait_for(lambda: self.granted is not None or self._error,
                                       timeout):
                self.close()
                raise AssertionError("mosquitto_sub %s: no SUBACK within %.1fs" % (topics, timeout))
        if self._error:
            self.close()
            raise AssertionError("mosquitto_sub %s: %s" % (topics, self._error))

    def _read(self):
        for line in self._proc.stdout:
            with self._cond:
                if line.startswith("{"):
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    self._messages.append({"topic": msg.get("topic"),
                                           "payload": msg.get("payload", "")})
                else:
                    # -d prints "Subscribed (mid: 1): 0, 135" after the SUBACK.
                    m = re.match(r"Subscribed \(mid: \d+\): (.*)", line.strip())
                    if m:
                        self.granted = [int(c) for c in m.group(1).split(",")]
                    elif line.startswith(("Connection error", "Error")):
                        self._error = line.strip()
                self._cond.notify_all()
        with self._cond:
            self._error = self._error or "mosquitto_sub exited"
            self._cond.notify_all()



def log_lines(stack, name, needle):
    """Lines of a process log (the broker's is mosquitto.log) that contain needle."""
    path = os.path.join(stack.tmp, ("mosquitto" if name == "broker" else name) + ".log")
    try:
        with open(path, "rb") as f:
            return [ln for ln in f.read().decode(errors="replace").splitlines() if needle in ln]
    except OSError:
        return []
