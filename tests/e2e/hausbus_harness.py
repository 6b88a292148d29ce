# Starts a private broker, every hausbus component and the gateway on loopback for one test run.
"""Test harness for the hausbus end-to-end tests and the bench (stdlib only).

    with Stack() as s:
        status, headers, body = s.request("POST", "/products", {...})
        s.wait_for(lambda: s.get("/orders/1")["status"] == "PAID")

Everything is bounded in time: HTTP calls, waits, process start and stop.
"""
import http.client
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

COMPONENTS = ("order", "product", "payment", "delivery", "notification", "view")
PROCESSES = COMPONENTS + ("gateway",)
ALLINONE = "hausbus"  # the all-in-one executable and its process name in Stack.procs
# HAUSBUS_VALGRIND=1 runs every component and the gateway under memcheck: an error or a
# definite leak makes the process exit 99, which the clean-stop check reports.
VALGRIND = (["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
             "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
             "--suppressions=" + os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                              "..", "valgrind.supp")]
            if os.environ.get("HAUSBUS_VALGRIND") else [])
# HAUSBUS_LAUNCHER: a command line put in front of every hausbus program the harness
# starts (the broker and the mosquitto_* tools stay native), e.g. "qemu-aarch64 -L <sysroot>"
# to drive a cross build (tests/cross). Empty: the programs run directly.
LAUNCHER = shlex.split(os.environ.get("HAUSBUS_LAUNCHER", ""))
# HAUSBUS_TIMEOUT_SCALE: every wait, HTTP timeout and stop grace is multiplied by it, for
# programs that run slower than native (emulated, under valgrind); 1 by default.
TIMEOUT_SCALE = float(os.environ.get("HAUSBUS_TIMEOUT_SCALE") or 1)
HEALTH_TIMEOUT_S = 60.0 if VALGRIND else 15.0  # scaled in wait_for()
STOP_GRACE_S = 5.0 * TIMEOUT_SCALE
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
# Longer than the gateway's request timeout (harness: 30 s under memcheck or an emulator).
HTTP_TIMEOUT_S = (45.0 if VALGRIND or LAUNCHER else 15.0) * TIMEOUT_SCALE
LOG_TAIL_LINES = 25
LOG_ALARM_LINES = 20
FINAL_STATUSES = ("REJECTED", "CANCELLED", "DELIVERED")
# HAUSBUS_E2E_STORE=postgresql runs every stack on a private PostgreSQL server
# (pg_server.py) through HAUSBUS_DATABASE_URL; anything else keeps sqlite in the data dir.
STORE = os.environ.get("HAUSBUS_E2E_STORE") or "sqlite"
POSTGRES = STORE == "postgresql"
BARRIER_USER = 990001  # settle()'s orders; tests use other user ids


def bin_dir():
    """Where the programs are: HAUSBUS_BIN_DIR (ctest sets it), else this checkout's build/."""
    return os.environ.get("HAUSBUS_BIN_DIR") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "build", "bin")


def mint_token(secret, role, uid=None, ttl=3600, sub=None):
    """A bearer token from hausbus-token, the operators' tool, signed with secret."""
    argv = [os.path.join(bin_dir(), "hausbus-token"), "--role", role, "--ttl", str(ttl)]
    if uid is not None:
        argv += ["--uid", str(uid)]
    if sub is not None:
        argv += ["--sub", sub]
    env = dict(os.environ, HAUSBUS_AUTH_SECRET=secret)
    env.pop("HAUSBUS_AUTH_SECRET_FILE", None)
    out = subprocess.run(LAUNCHER + argv, env=env, check=True, timeout=10 * TIMEOUT_SCALE,
                         capture_output=True, text=True)
    return out.stdout.strip()


def free_port():
    # The port may be taken again between close and use; loopback-only and short-lived, so
    # a collision is unlikely enough for tests.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, deadline):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class MessageCollector:
    """What every mosquitto_sub wrapper shares: subclasses start self._proc and a
    self._thread that appends to self._messages under self._cond."""

    def messages(self):
        with self._cond:
            return list(self._messages)

    def wait(self, pred, timeout=10.0):
        """Waits until pred(list of messages) is truthy; returns its value or raises."""
        timeout *= TIMEOUT_SCALE
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = pred(list(self._messages))
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %.1fs waiting for MQTT messages; got %r"
                                         % (timeout, self._messages[-10:]))
                self._cond.wait(min(left, 0.1))

    def close(self):
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._thread.join(STOP_GRACE_S)
        self._proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Subscriber(MessageCollector):
    """A mosquitto_sub process collecting messages on a background thread.

    The constructor returns only once the subscription is live (a probe message on a
    private topic has come back), so a test can subscribe, then publish, without a race.
    Messages are dicts {"topic", "payload" (str), "properties" (MQTT v5, as mosquitto_sub
    names them: "content-type", ...), "t" (time.monotonic() on arrival)}.
    session: a client id for a persistent session (clean start off, no expiry), so a new
    Subscriber with the same id gets what the broker queued while none was connected.
    A CloudEvents batch (docs/PROTOCOL.md, "Batches") is collected as one message per event
    in it, each with "batch": the number of events the message carried; raw=True keeps
    each MQTT message as it came.
    """

    def __init__(self, port, topics, timeout=5.0, qos=0, session=None, raw=False):
        if isinstance(topics, str):
            topics = [topics]
        self.port = port
        self.raw = raw
        self._probe = "hausbus-probe/" + uuid.uuid4().hex
        self._cond = threading.Condition()
        self._messages = []
        self._probe_seen = False
        args = ["mosquitto_sub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(port),
                "-q", str(qos), "-F", "%j", "-t", self._probe]
        if session:
            args += ["-c", "-i", session]
        for t in topics:
            args += ["-t", t]
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      stdin=subprocess.DEVNULL)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while True:
            # mosquitto_sub subscribes some time after it starts; repeat the probe until
            # one comes back.
            mqtt_pub(port, self._probe, "probe")
            with self._cond:
                if self._cond.wait_for(lambda: self._probe_seen, timeout=0.1):
                    break
            if time.monotonic() > deadline:
                self.close()
                raise AssertionError("mosquitto_sub on %s did not subscribe within %.1fs"
                                     % (topics, timeout))

    def _read(self):
        for line in self._proc.stdout:
            now = time.monotonic()
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                if msg.get("topic") == self._probe:
                    self._probe_seen = True
                else:
                    self._messages.extend(expand_batch({
                        "topic": msg.get("topic"), "payload": msg.get("payload", ""),
                        "properties": msg.get("properties", {}), "t": now}, self.raw))
                self._cond.notify_all()



BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"


def expand_batch(message, raw=False):
    """The collected messages for one MQTT message: itself, or for a CloudEvents batch one
    per event (payload: that event's JSON text), in order."""
    content_type = message["properties"].get("content-type", "")
    if raw or not content_type.startswith(BATCH_CONTENT_TYPE):
        return [message]
    try:
        events = json.loads(message["payload"])
    except ValueError:
        return [message]
    if not isinstance(events, list):
        return [message]
    return [dict(message, payload=json.dumps(e), batch=len(events)) for e in events]


def mqtt_pub(port, topic, payload, qos=1):
    """Publishes payload (str or bytes) once with mosquitto_pub; raises on failure."""
    if isinstance(payload, str):
        payload = payload.encode()
    subprocess.run(["mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(port),
                    "-q", str(qos), "-t", topic, "-s"],
                   input=payload, check=True, timeout=10, stdout=subprocess.DEVNULL)


class Stack:
    """A broker, the six components and the gateway, each in its own process, or some or
    all of them in one all-in-one hausbus process."""

    def __init__(self, env=None, log_level="info", broker_conf_extra=None, process_env=None,
                 ssl_context=None, allinone=None):
        """env: for every process. broker_conf_extra: lines appended to the broker config,
        after its one listener, so listener options (certfile, keyfile) apply to it; later
        global options (allow_anonymous false, password_file) override earlier ones.
        process_env: name -> environment for that process only (its MQTT credentials).
        ssl_context: an ssl.SSLContext to talk HTTPS to the gateway.
        allinone: True runs the components and the gateway as one hausbus process; a
        sequence of names runs those in it (HAUSBUS_COMPONENTS) and the rest as their own
        processes; False runs seven processes. None (the default) reads HAUSBUS_ALLINONE:
        "1" means True, anything else False. start/kill/pid of a name inside the
        all-in-one act on the hausbus process (process_env of "hausbus" applies to it), so
        a test that stops one component and expects the gateway to go on serving
        (test_resilience, test_bad_input's silent component) does not hold in that mode."""
        self.tmp = tempfile.mkdtemp(prefix="hausbus-e2e-")
        self.data_dir = os.path.join(self.tmp, "data")
        os.mkdir(self.data_dir)
        self.mqtt_port = free_port()
        self.http_port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "HAUSBUS_MQTT_HOST": "127.0.0.1",
            "HAUSBUS_MQTT_PORT": str(self.mqtt_port),
            "HAUSBUS_HTTP_PORT": str(self.http_port),
            "HAUSBUS_DATA_DIR": self.data_dir,
            "HAUSBUS_LOG_LEVEL": log_level,
            # The gateway refuses to start without a token secret; tests that are not about
            # authentication run it in its explicit open mode (test_auth.py turns it on).
            "HAUSBUS_AUTH": "open",
        })
        if VALGRIND or LAUNCHER:
            # A burst (200 orders at once) queues at a component that runs many times
            # slower under memcheck or an emulator; the default 5 s would turn the wait
            # into 504s that say nothing about the code. Tests about timeouts set their own.
            self.env["HAUSBUS_REQUEST_TIMEOUT_MS"] = "30000"
        self.postgres = None
        if POSTGRES:
            from pg_server import PostgresServer
            self.postgres = PostgresServer()
            self.env["HAUSBUS_DATABASE_URL"] = self.postgres.url
        self.env.update(env or {})
        self.procs = {}  # name -> Popen; "broker" is mosquitto
        self._logs = {}  # name -> open log file
        self.failed = False
        self.broker_conf_extra = list(broker_conf_extra or [])
        self.process_env = dict(process_env or {})
        self.ssl_context = ssl_context
        if allinone is None:
            allinone = os.environ.get("HAUSBUS_ALLINONE") == "1"
        if allinone is True:
            self.inside = tuple(PROCESSES)
        elif allinone:
            self.inside = tuple(allinone)
            unknown = [n for n in self.inside if n not in PROCESSES]
            assert not unknown, unknown
        else:
            self.inside = ()

    def process_of(self, name):
        """The process that runs name: "hausbus" when it is inside the all-in-one."""
        return ALLINONE if name in self.inside else name

    def process_names(self):
        """The processes this stack starts besides the broker, in start order."""
        names = [n for n in PROCESSES if n not in self.inside]
        return names + [ALLINONE] if self.inside else names

    # --- lifecycle -------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start_all()
        except BaseException:
            self.print_logs()
            self.stop_all()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.print_logs()
        problems = self.stop_all()
        if problems and exc_type is None:
            raise AssertionError("unclean stop: " + "; ".join(problems))
        return False

    def start_all(self):
        self._start_broker()
        for name in self.process_names():
            self.start(name, wait=False)
        self.wait_healthy()

    def _start_broker(self):
        # The database first (when there is one): whatever starts next may need it.
        if self.postgres and not self.postgres.running():
            self.postgres.start()
        conf = os.path.join(self.tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "listener %d 127.0.0.1" % self.mqtt_port,
                "allow_anonymous true",
                "persistence true",
                "persistence_location %s/" % self.tmp,
                # As in broker/mosquitto.conf: the default (1800 s) would make a kill -9 of
                # the broker lose every queued message and session since it started; a
                # 1 s snapshot is what the fault tests restart it against.
                "autosave_interval 1",
                "set_tcp_nodelay true",
                "max_queued_messages 100000",
                "max_inflight_messages 100",
                "max_packet_size 1064960",  # as in broker/mosquitto.conf
                "log_dest file %s" % os.path.join(self.tmp, "mosquitto.log"),
                # Started as root, mosquitto would drop to user "mosquitto" and could not
                # write into our temp dir; this keeps it as whoever runs the tests.
                "user %s" % pwd.getpwuid(os.getuid()).pw_name,
            ] + self.broker_conf_extra + [""]))
        self._spawn("broker", ["mosquitto", "-c", conf])
        if not _wait_port(self.mqtt_port, time.monotonic() + 5):
            raise AssertionError("mosquitto did not listen on %d" % self.mqtt_port)

    def stop_broker(self, sig=signal.SIGTERM):
        """Stops mosquitto: SIGTERM writes its persistence file, SIGKILL loses whatever
        arrived since the last autosave."""
        self.kill("broker", sig)

    def start_broker(self):
        """Starts mosquitto again on the same port and persistence dir (no health wait:
        the components reconnect on their own backoff)."""
        p = self.procs.get("broker")
        if p is not None and p.poll() is None:
            raise AssertionError("broker is already running")
        self._start_broker()

    def restart_broker(self, sig=signal.SIGTERM, pause=0.0):
        """stop_broker(sig), pause seconds, start_broker(), then waits until every process
        is back online."""
        self.stop_broker(sig)
        time.sleep(pause)
        self.start_broker()
        self.wait_healthy()

    def _spawn(self, name, argv):
        if name in self._logs:
            self._logs.pop(name).close()
        log = open(os.path.join(self.tmp, name + ".log"), "ab")
        self._logs[name] = log
        env = dict(self.env, **self.process_env.get(name, {}))
        self.procs[name] = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, cwd=self.tmp)

    def start(self, name, wait=True):
        """(Re)starts a component or the gateway (or the all-in-one that runs it) with the
        same data dir; waits for health."""
        assert name in PROCESSES or name == ALLINONE, name
        name = self.process_of(name)
        p = self.procs.get(name)
        if p is not None and p.poll() is None:
            raise AssertionError("%s is already running" % name)
        exe = os.path.join(bin_dir(), ALLINONE if name == ALLINONE else "hausbus-" + name)
        if not os.access(exe, os.X_OK):
            raise AssertionError("missing binary %s" % exe)
        if name == ALLINONE and set(self.inside) != set(PROCESSES):
            self.process_env.setdefault(ALLINONE, {})["HAUSBUS_COMPONENTS"] = ",".join(self.inside)
        if self.postgres and not self.postgres.running():
            self.postgres.start()
        self._spawn(name, LAUNCHER + VALGRIND + [exe])
        if wait:
            self.wait_healthy()

    def start_replica(self, component, instance, wait=True):
        """Starts one more replica of component (PostgreSQL runs only), as process
        "<component>@<instance>" with HAUSBUS_INSTANCE=<instance>; waits until the broker
        holds its "online" status."""
        assert component in COMPONENTS and self.postgres, component
        name = "%s@%s" % (component, instance)
        p = self.procs.get(name)
        if p is not None and p.poll() is None:
            raise AssertionError("%s is already running" % name)
        self.process_env[name] = {"HAUSBUS_INSTANCE": instance}
        self._spawn(name, LAUNCHER + VALGRIND + [os.path.join(bin_dir(), "hausbus-" + component)])
        if wait:
            topic = "hausbus/v1/status/%s/%s" % (component, instance)
            with self.subscribe(topic) as sub:
                sub.wait(lambda ms: [m for m in ms if m["payload"] == "online"], 15.0)
        return name

    def kill(self, name, sig=signal.SIGKILL):
        """Stops one process (SIGKILL by default: no goodbye, the last will fires); a name
        inside the all-in-one stops the whole hausbus process."""
        p = self.procs[self.process_of(name)]
        if p.poll() is None:
            p.send_signal(sig)
        try:
            p.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def stop_all(self):
        """Stops everything; returns what went wrong: a process that did not exit 0 on
        SIGTERM, or a sanitizer report (ASan, LeakSanitizer, UBSan) in any log."""
        problems = []
        # Gateway and components first so they can still say goodbye to the broker.
        replicas = sorted(n for n in self.procs if "@" in n)
        order = (["gateway"] if "gateway" in self.procs else []) + replicas + \
            [n for n in COMPONENTS + (ALLINONE,) if n in self.procs] + ["broker"]
        for group in (order[:-1], order[-1:]):
            live = [(n, self.procs[n]) for n in group
                    if n in self.procs and self.procs[n].poll() is None]
            for _, p in live:
                p.terminate()
            deadline = time.monotonic() + STOP_GRACE_S
            for name, p in live:
                try:
                    p.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    problems.append("%s ignored SIGTERM" % name)
                if p.returncode != 0:
                    problems.append("%s exited %s on SIGTERM" % (name, p.returncode))
        for log in self._logs.values():
            log.close()
        self._logs.clear()
        if self.postgres:
            self.postgres.stop()
        problems += self._sanitizer_reports()
        if problems:
            self.failed = True
            print("\n".join(["unclean stop:"] + problems), file=sys.stderr)
            self.print_logs()
        # Keep the logs and databases of a failed run (their path was printed).
        if not self.failed and not os.environ.get("HAUSBUS_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
            if self.postgres:
                self.postgres.remove()
        elif self.postgres:
            print("PostgreSQL kept in %s" % self.postgres.root, file=sys.stderr)
        return problems

    def _sanitizer_reports(self):
        found = []
        replicas = tuple(sorted(n for n in self.procs if "@" in n))
        for name in ("broker",) + COMPONENTS + ("gateway", ALLINONE) + replicas:
            path = os.path.join(self.tmp, name + ".log")
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            for marker in SANITIZER_MARKERS:
                if marker in text:
                    found.append("%s log has %r" % (name, marker))
        return found

    def exit_codes(self):
        """name -> return code of every process that has exited (None-free)."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def pid(self, name):
        return self.procs[self.process_of(name)].pid

    def wait_healthy(self, timeout=HEALTH_TIMEOUT_S):
        def health():
            self._check_alive()
            try:
                status, _, body = self.request("GET", "/healthz", timeout=1.0 * TIMEOUT_SCALE)
            except OSError as e:
                return (None, str(e))
            return (status, body)

        def healthy(answer):
            status, body = answer
            comps = body.get("components") if isinstance(body, dict) else None
            return status == 200 and isinstance(comps, dict) and all(
                comps.get(c) == "online" for c in COMPONENTS)

        return self.wait_for(health, timeout, until=healthy, interval=0.05,
                             what="GET /healthz with all six components online")[1]

    def _check_alive(self):
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise AssertionError("process(es) exited: %r" % dead)

    # --- HTTP ---------------------------------------------------------------------

    def request(self, method, path, body=None, raw=None, headers=None, timeout=HTTP_TIMEOUT_S):
        """One HTTP request on a fresh connection. body is JSON-encoded; raw (bytes/str) is
        sent as is. Returns (status, headers as a dict with lower-case names, parsed JSON
        or None when the body is empty or not JSON)."""
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
        elif raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        if self.ssl_context is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.http_port, timeout=timeout,
                                               context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=data, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (413) and close before reading a large body.
                pass
            resp = conn.getresponse()
            payload = resp.read()
            rh = {k.lower(): v for k, v in resp.getheaders()}
            return resp.status, rh, _parse_json(payload)
        finally:
            conn.close()

    def get(self, path):
        """GET that must answer 200; returns the parsed body."""
        status, _, body = self.request("GET", path)
        if status != 200:
            raise AssertionError("GET %s answered %d %r" % (path, status, body))
        return body

    def post(self, path, body=None, expect=None):
        status, headers, parsed = self.request("POST", path, body)
        if expect is not None and status != expect:
            raise AssertionError("POST %s %r answered %d %r, expected %d"
                                 % (path, body, status, parsed, expect))
        return status, headers, parsed

    # --- waiting and MQTT -----------------------------------------------------------

    def wait_for(self, fn, timeout=10.0, until=bool, what=None, interval=0.02):
        """Calls fn every interval until until(value) holds and returns that value. On
        timeout raises AssertionError naming what was awaited and the last value seen.
        timeout is scaled by HAUSBUS_TIMEOUT_SCALE."""
        timeout *= TIMEOUT_SCALE
        deadline = time.monotonic() + timeout
        while True:
            value = fn()
            if until(value):
                return value
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %.1fs waiting for %s; last value: %r"
                                     % (timeout, what or getattr(fn, "__name__", "condition"), value))
            time.sleep(interval)

    def subscribe(self, topics, timeout=5.0, qos=0):
        """A live Subscriber (close it, or use it as a context manager)."""
        return Subscriber(self.mqtt_port, topics, timeout, qos)

    def mqtt_sub(self, topic, count, timeout=10.0):
        """Collects count messages on topic (retained ones included) within timeout."""
        with self.subscribe(topic) as sub:
            return sub.wait(lambda m: m[:count] if len(m) >= count else None, timeout)

    def mqtt_pub(self, topic, payload, qos=1):
        mqtt_pub(self.mqtt_port, topic, payload, qos)

    # --- diagnostics -----------------------------------------------------------------

    def rss_kb(self, field="Rss"):
        """name -> memory in kB of every running process, from /proc/<pid>/smaps_rollup:
        "Rss" counts shared library pages in every process that maps them; "Pss" splits
        them among those processes, so the Pss values add up to what the stack costs."""
        out = {}
        for name, p in self.procs.items():
            if p.poll() is not None:
                continue
            try:
                with open("/proc/%d/smaps_rollup" % p.pid) as f:
                    for line in f:
                        if line.startswith(field + ":"):
                            out[name] = int(line.split()[1])
            except OSError:
                pass
        return out

    def print_logs(self):
        """Prints the tail of every process log (for CI failures) and keeps the temp dir."""
        self.failed = True
        print("\n===== hausbus logs in %s (exit codes %r) =====" % (self.tmp, self.exit_codes()),
              flush=True)
        for name in ("broker",) + PROCESSES + (ALLINONE,):
            path = os.path.join(self.tmp, name + ".log")
            if name == "broker":
                path = os.path.join(self.tmp, "mosquitto.log")
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode(errors="replace").splitlines()
            except OSError:
                continue
            # Polling floods the info level; warnings and errors are what explain a failure.
            alarms = [ln for ln in lines if '"level":"warn"' in ln or '"level":"error"' in ln
                      or "Error" in ln or "Warning" in ln][-LOG_ALARM_LINES:]
            # With autosave_interval 1 the broker notes a save every second or two.
            tail = [ln for ln in lines if "Saving in-memory database" not in ln][-LOG_TAIL_LINES:]
            print("----- %s: last %d warnings/errors -----" % (name, len(alarms)))
            print("\n".join(alarms))
            print("----- %s: last %d lines -----" % (name, len(tail)))
            print("\n".join(tail), flush=True)
        if self.postgres:
            print("----- postgresql: last lines -----")
            print(self.postgres.log_tail(LOG_TAIL_LINES), flush=True)


def _parse_json(payload):
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return None


class StackTestCase(unittest.TestCase):
    """One Stack per test class; prints the process logs after any failing test."""

    stack_env = None
    stack_allinone = None  # Stack(allinone=...): None follows HAUSBUS_ALLINONE
    stack = None

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(env=cls.stack_env, allinone=cls.stack_allinone).__enter__()

    @classmethod
    def tearDownClass(cls):
        if cls.stack is not None:
            problems = cls.stack.stop_all()
            if problems:
                raise AssertionError("unclean stop: " + "; ".join(problems))

    def run(self, result=None):
        before = _problems(result)
        out = super().run(result)
        if result is not None and _problems(result) > before and self.stack is not None:
            self.stack.print_logs()
        return out

    # Shortcuts used by every test file.

    def place(self, product_id, qty, user_id, product_name=None):
        body = {"productId": product_id, "qty": qty, "userId": user_id}
        if product_name is not None:
            body["productName"] = product_name
        status, headers, order = self.stack.request("POST", "/orders", body)
        self.assertEqual(status, 202, order)
        self.assertEqual(order["status"], "PLACED")
        self.assertEqual(headers.get("location"), "/orders/%d" % order["id"])
        return order["id"]

    def place_during(self, product_id, user_id, action, limit=300, pause=0.005):
        """Places orders of qty 1 one after another while action() runs (a chaos step);
        returns the ids of those accepted (202), at most limit."""
        ids = []
        stop = threading.Event()

        def place():
            while not stop.is_set() and len(ids) < limit:
                status, _, order = self.stack.request(
                    "POST", "/orders", {"productId": product_id, "qty": 1, "userId": user_id})
                if status == 202:
                    ids.append(order["id"])
                time.sleep(pause)
        placer = threading.Thread(target=place)
        placer.start()
        try:
            action()
        finally:
            stop.set()
            placer.join(30)
        return ids

    def create_product(self, name, stock, price):
        status, headers, product = self.stack.request(
            "POST", "/products", {"productName": name, "stock": stock, "price": price})
        self.assertEqual(status, 201, product)
        self.assertEqual(headers.get("location"), "/products/%d" % product["id"])
        self.assertEqual((product["productName"], product["stock"], product["price"]),
                         (name, stock, price))
        return product["id"]

    def wait_order(self, order_id, status, timeout=10.0):
        """Waits until the order has the status; returns the order. Fails at once when the
        order ends in another final status."""
        def reached(order):
            if order["status"] in FINAL_STATUSES and order["status"] != status:
                raise AssertionError("order %d ended %s, expected %s: %r"
                                     % (order_id, order["status"], status, order))
            return order["status"] == status
        return self.stack.wait_for(lambda: self.stack.get("/orders/%d" % order_id), timeout,
                                   until=reached, what="order %d to be %s" % (order_id, status))

    def stock(self, product_id):
        return self.stack.get("/products/%d" % product_id)["stock"]

    def deliveries(self, order_id):
        return self.stack.get("/deliveries?orderId=%d" % order_id)

    def payments(self, order_id):
        return self.stack.get("/payments?orderId=%d" % order_id)

    def notifications(self, user_id, order_id):
        return [n for n in self.stack.get("/notifications?userId=%d" % user_id)
                if n["orderId"] == order_id]

    def wait_delivery(self, order_id, status, timeout=10.0):
        """Waits until the order has exactly one delivery, in status; returns it."""
        return self.stack.wait_for(lambda: self.deliveries(order_id), timeout,
                                   until=lambda d: len(d) == 1 and d[0]["status"] == status,
                                   what="one %s delivery for order %d" % (status, order_id))[0]

    def mypage_row(self, user_id, order_id):
        rows = [r for r in self.stack.get("/mypage/%d" % user_id) if r["orderId"] == order_id]
        self.assertLessEqual(len(rows), 1, "mypage has several rows for order %d" % order_id)
        return rows[0] if rows else None

    def wait_mypage(self, user_id, order_id, timeout=10.0, **expected):
        """Waits until the user's mypage row for the order has the expected fields."""
        return self.stack.wait_for(
            lambda: self.mypage_row(user_id, order_id), timeout,
            until=lambda r: r is not None and all(r.get(k) == v for k, v in expected.items()),
            what="mypage row of order %d with %r" % (order_id, expected))

    def settle(self):
        """A barrier: places an order on a private product and waits until it has been
        through order, product, payment, delivery and view. Anything a component published
        before this call has then been consumed, because every component receives its
        messages in the order the single-threaded broker accepted them."""
        cls = type(self)
        if getattr(cls, "_barrier_product", None) is None:
            cls._barrier_product = self.create_product("barrier", 10 ** 9, 1)
        order_id = self.place(cls._barrier_product, 1, BARRIER_USER)
        self.wait_delivery(order_id, "RECEIVED")
        self.wait_mypage(BARRIER_USER, order_id, orderStatus="PAID", deliveryStatus="RECEIVED")


def _problems(result):
    if result is None:
        return 0
    return len(result.failures) + len(result.errors) + len(getattr(result, "unexpectedSuccesses", []))
