#!/usr/bin/env python3
# Runs the same saga_load load against another commit and this checkout, alternately, in one run.
"""Usage: compare.py REV [--rounds N] [--orders N] [--concurrency C] [--warmup N]
                     [--single N] [--client wrk|python] [--old-env K=V] [--new-env K=V]
                     [--jsonl FILE] [--keep] [-- saga_load args...]

REV is a revision (built from `git archive` in a temp dir, its own build/) or the path
of another checkout (used as it is: its ./run.sh builds it). The other side is this
checkout. Each run starts that tree's ./run.sh on free loopback ports with a fresh data
dir, runs bench/saga_load.py against it (a warm-up, the burst, the drain to PAID, then
sequential single orders), and stops it; the runs go old, new, old, new, ... (--rounds
pairs) so that the machine's drift hits both alike. One table row per run:

  completed/s      PAID orders / (last PAID - first POST) of the burst (saga_load)
  saga p50/p99     the single-order phase: POST, then GET every 1 ms until PAID
  msgs/order       broker $SYS/broker/messages/{received,sent} (every MQTT packet,
                   PUBACKs included) over the burst and drain, until the bus is quiet,
                   per burst order; "pub in/out" is $SYS/broker/publish/messages/
                   {received,sent}: publishes in and deliveries out
  CPU µs/order     utime+stime from /proc/<pid>/stat over the burst and drain, per
                   process, per burst order
  RSS MiB          VmRSS of the services and the broker after the run, summed
  batch            fields whose name starts with "batch" in the retained
                   hausbus/v1/metrics/<component> snapshots after the drain

The drain polls GET /orders/:id (at least one per order, "gets/order" in --jsonl),
which go gateway -> order over MQTT and count in msgs/order and CPU on both sides
alike. HAUSBUS_* variables of the caller reach both stacks; --old-env/--new-env set
one side's only (compare a knob on one commit: `compare.py HEAD --old-env
HAUSBUS_BUS_BATCH=1`). Everything listens on 127.0.0.1; every wait is bounded.
"""
import argparse
import json
import os
import shutil
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SAGA_LOAD = os.path.join(HERE, "saga_load.py")
COMPONENTS = ("order", "product", "payment", "delivery", "notification", "view")
# Column order of the CPU figures; a name not listed (the all-in-one) goes last.
CPU_ORDER = COMPONENTS + ("gateway", "hausbus", "broker")
SYS_TOPICS = ("$SYS/broker/messages/received", "$SYS/broker/messages/sent",
              "$SYS/broker/publish/messages/received", "$SYS/broker/publish/messages/sent")
SYS_INTERVAL_S = 1
MOSQUITTO_SYS_INTERVAL_S = 10  # its default, for a checkout whose run.sh cannot change it
CLK_TCK = os.sysconf("SC_CLK_TCK")
HEALTH_TIMEOUT_S = 180.0  # the first start of a tree may build it
STOP_GRACE_S = 30.0
QUIET_PACKETS = 40  # fewer packets than this in one $SYS interval: the bus is quiet


def log(msg):
    print("compare: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- trees

def git(*args, cwd=ROOT):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True, timeout=120).stdout.strip()


def describe_checkout(tree):
    """Short commit of a checkout, with "+dirty" when its tracked files differ from it."""
    try:
        head = git("rev-parse", "--short", "HEAD", cwd=tree)
        dirty = git("status", "--porcelain", "--untracked-files=no", cwd=tree)
    except (subprocess.CalledProcessError, OSError):
        return os.path.basename(tree)
    return head + ("+dirty" if dirty else "")


def export_rev(rev, dest):
    """Unpacks rev's tree into dest (git archive: no worktree left registered)."""
    os.makedirs(dest)
    archive = subprocess.Popen(["git", "archive", "--format=tar", rev], cwd=ROOT,
                               stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", dest], stdin=archive.stdout, check=True, timeout=300)
    archive.stdout.close()
    if archive.wait(timeout=60) != 0:
        raise SystemExit(f"git archive {rev} failed")


def build(tree, logfile):
    """Builds a tree's programs as its own ./run.sh would (scripts/common.sh), so that the
    first start is not slowed by a build; older trees without hb_build_programs get a
    plain CMake build."""
    script = ('set -e; HB_ROOT=$PWD; . scripts/common.sh; '
              'if declare -F hb_build_programs >/dev/null; then hb_build_programs build; '
              'else cmake -S . -B build >/dev/null && cmake --build build -j "$(nproc)" >/dev/null; fi')
    with open(logfile, "ab") as out:
        rc = subprocess.run(["bash", "-c", script], cwd=tree, stdout=out, stderr=out,
                            timeout=1800).returncode
    if rc != 0:
        with open(logfile, errors="replace") as f:
            sys.stderr.write("".join(f.readlines()[-30:]))
        raise SystemExit(f"building {tree} failed (log: {logfile})")


def sys_interval(tree, exported):
    """The $SYS interval the tree's stack will have: ours (HAUSBUS_BROKER_SYS_INTERVAL,
    which older run.sh do not know: an exported tree gets it in its broker config
    instead), else mosquitto's default."""
    with open(os.path.join(tree, "run.sh")) as f:
        if "HAUSBUS_BROKER_SYS_INTERVAL" in f.read():
            return SYS_INTERVAL_S
    if exported:
        with open(os.path.join(tree, "broker", "mosquitto.conf"), "a") as f:
            f.write(f"\nsys_interval {SYS_INTERVAL_S}\n")
        return SYS_INTERVAL_S
    log(f"{tree}/run.sh cannot set the broker's $SYS interval: reading it every "
        f"{MOSQUITTO_SYS_INTERVAL_S} s (slower runs)")
    return MOSQUITTO_SYS_INTERVAL_S


# ---------------------------------------------------------------- one stack

def free_ports(n):
    """n distinct free loopback ports (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def healthy(http_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=1) as r:
            comps = json.load(r).get("components", {})
    except (OSError, ValueError):
        return False
    return all(comps.get(c) == "online" for c in COMPONENTS)


def descendants(root):
    """Pids of every process below root (run.sh's supervisors start each program in a
    session of its own, so the process tree is what ties them to it)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stack_processes(root, tree):
    """{name: pid} of the stack run.sh (pid root) started: the processes below it whose
    executable is in tree/build/bin (name without the hausbus- prefix), and "broker"."""
    found = {}
    bindir = os.path.realpath(os.path.join(tree, "build", "bin")) + "/"
    for pid in descendants(root):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe.startswith(bindir):
            name = os.path.basename(exe)
            found[name[len("hausbus-"):] if name.startswith("hausbus-") else name] = pid
        elif os.path.basename(exe) == "mosquitto":
            found["broker"] = pid
    return found


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    except (OSError, IndexError, ValueError):
        return None


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Stack:
    """One tree's ./run.sh on free ports, in its own session; stop() ends it all."""

    def __init__(self, tree, rundir, env_extra):
        self.tree, self.rundir = tree, rundir
        self.http_port, self.mqtt_port = free_ports(2)
        env = dict(os.environ, HAUSBUS_HTTP_PORT=str(self.http_port),
                   HAUSBUS_MQTT_PORT=str(self.mqtt_port),
                   HAUSBUS_DATA_DIR=os.path.join(rundir, "data"),
                   HAUSBUS_LOG_LEVEL=os.environ.get("HAUSBUS_LOG_LEVEL", "warn"),
                   HAUSBUS_BROKER_SYS_INTERVAL=str(SYS_INTERVAL_S))
        env.pop("HAUSBUS_BUILD_DIR", None)  # the programs must be in tree/build/bin
        env.update(env_extra)
        self.log = open(os.path.join(rundir, "run.log"), "ab")
        self.proc = subprocess.Popen(["./run.sh"], cwd=tree, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, start_new_session=True)
        self.procs = {}

    def wait_up(self):
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"run.sh exited {self.proc.returncode} (log: {self.rundir}/run.log)")
            if healthy(self.http_port):
                self.procs = stack_processes(self.proc.pid, self.tree)
                if "broker" in self.procs and len(self.procs) >= 2:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"stack not healthy after {HEALTH_TIMEOUT_S:.0f} s (log: {self.rundir}/run.log)")

    def stop(self):
        """SIGTERM to run.sh, which stops its programs, then the broker; what is still
        there after STOP_GRACE_S (run.sh's processes and the programs seen) gets SIGKILL."""
        left = descendants(self.proc.pid) + list(self.procs.values())
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE_S)
                left = []
            except subprocess.TimeoutExpired:
                log(f"run.sh did not stop in {STOP_GRACE_S:.0f} s: SIGKILL to what it started")
                left += [self.proc.pid]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- the phase hook

def mqtt_read(port, topics, count, wait_s, fresh=False):
    """[(topic, payload)] of up to count messages from mosquitto_sub (retained ones first
    unless fresh), bounded by wait_s."""
    argv = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-v", "-W", str(int(wait_s))]
    if count:
        argv += ["-C", str(count)]
    if fresh:
        argv.append("-R")
    for t in topics:
        argv += ["-t", t]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=wait_s + 5).stdout
    pairs = []
    for line in out.splitlines():
        topic, _, payload = line.partition(" ")
        pairs.append((topic, payload))
    return pairs


def read_sys(port):
    """{topic: count} of SYS_TOPICS as the broker last published them (retained); a topic
    missing or unreadable is left out."""
    values = {}
    for topic, payload in mqtt_read(port, SYS_TOPICS, len(SYS_TOPICS), 3):
        try:
            values[topic] = int(payload)
        except ValueError:
            pass
    return values


def sys_packets(values):
    """MQTT packets in and out, PUBACKs included, of a read_sys() result."""
    return values.get(SYS_TOPICS[0], 0) + values.get(SYS_TOPICS[1], 0)


def batch_fields(obj, prefix=""):
    """{dotted.name: value} of every member whose name starts with "batch", at any depth."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            name = prefix + k
            if k.lower().startswith("batch"):
                out[name] = v
            else:
                out.update(batch_fields(v, name + "."))
    return out


def read_metrics(port):
    """{component: batch fields} from the retained snapshots; when any has such fields,
    waits (one metrics interval at most) for snapshots published after this call."""
    snaps = {}
    for topic, payload in mqtt_read(port, ["hausbus/v1/metrics/+"], 0, 1):
        try:
            snaps[topic.rsplit("/", 1)[1]] = json.loads(payload)
        except ValueError:
            pass
    if any(batch_fields(s) for s in snaps.values()):
        for topic, payload in mqtt_read(port, ["hausbus/v1/metrics/+"], len(snaps), 6, fresh=True):
            try:
                snaps[topic.rsplit("/", 1)[1]] = json.loads(payload)
            except ValueError:
                pass
    return {name: f for name, f in ((n, batch_fields(s)) for n, s in sorted(snaps.items())) if f}


def hook(rundir):
    """--hook: saga_load's --phase-cmd. burst-start: waits one $SYS interval of idle bus,
    reads $SYS, then the CPU counters last (right before the burst). drain-end: the CPU
    counters first, then $SYS once the bus is quiet (bounded: 20 s or 4 intervals), then
    the metrics."""
    phase = os.environ.get("SAGA_PHASE", "")
    with open(os.path.join(rundir, "stack.json")) as f:
        stack = json.load(f)
    port, procs, interval = stack["mqtt_port"], stack["procs"], stack["sys_interval"]
    snap = {"phase": phase}
    if phase == "burst-start":
        time.sleep(interval + 0.2)
        snap["sys"] = read_sys(port)
        snap["cpu"] = {n: cpu_ticks(p) for n, p in procs.items()}
        snap["t"] = time.monotonic()
    elif phase == "drain-end":
        snap["t"] = time.monotonic()
        snap["cpu"] = {n: cpu_ticks(p) for n, p in procs.items()}
        # Quiet for two intervals in a row: on a busy shared machine one process can
        # stall for an interval with work still queued.
        last, quiet = read_sys(port), 0
        deadline = time.monotonic() + max(20, 4 * interval)
        while quiet < 2 and time.monotonic() < deadline:
            time.sleep(interval + 0.2)
            now = read_sys(port)
            quiet = quiet + 1 if sys_packets(now) - sys_packets(last) < QUIET_PACKETS else 0
            last = now
        snap["sys"] = last
        snap["quiet_after_s"] = round(time.monotonic() - snap["t"], 1) if quiet >= 2 else None
        snap["metrics"] = read_metrics(port)
    else:
        return 2
    with open(os.path.join(rundir, phase + ".json"), "w") as f:
        json.dump(snap, f)
    return 0


# ---------------------------------------------------------------- one run

def one_run(label, tree, interval, rundir, env_extra, args):
    os.makedirs(rundir)
    stack = Stack(tree, rundir, env_extra)
    try:
        stack.wait_up()
        with open(os.path.join(rundir, "stack.json"), "w") as f:
            json.dump({"mqtt_port": stack.mqtt_port, "procs": stack.procs,
                       "sys_interval": interval}, f)
        with open(os.path.join(rundir, "pids"), "w") as f:
            f.write("".join(f"{p} {n}\n" for n, p in stack.procs.items() if n != "broker"))
        argv = [sys.executable, SAGA_LOAD, "--url", f"http://127.0.0.1:{stack.http_port}",
                "--orders", str(args.orders), "--concurrency", str(args.concurrency),
                "--warmup", str(args.warmup), "--single", str(args.single),
                "--client", args.client, "--pids-file", os.path.join(rundir, "pids"),
                "--broker-pid", str(stack.procs["broker"]), "--label", label,
                "--phase-cmd", shlex.join([sys.executable, os.path.abspath(__file__), "--hook", rundir]),
                *args.saga_args]
        with open(os.path.join(rundir, "saga_load.err"), "wb") as err:
            out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=err, timeout=1200).stdout
        rss = {n: rss_kib(p) for n, p in stack.procs.items()}
    finally:
        stack.stop()
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"saga_load printed no JSON (see {rundir}/saga_load.err)")
    return summarise(label, rundir, result, rss)


def summarise(label, rundir, result, rss):
    row = {"label": label, "ok": result.get("ok"), "mismatches": result.get("mismatches"),
           "completed_per_s": (result.get("e2e") or {}).get("completed_per_s"),
           "accepted_per_s": (result.get("burst") or {}).get("accepted_per_s")}
    single = (result.get("single") or {}).get("latency_ms") or {}
    row["saga_p50_ms"], row["saga_p99_ms"] = single.get("p50"), single.get("p99")
    paid = (result.get("e2e") or {}).get("paid") or 0
    row["orders"] = paid
    row["gets_per_order"] = round((result.get("e2e") or {}).get("poll_gets", 0) / paid, 2) if paid else None
    try:
        with open(os.path.join(rundir, "burst-start.json")) as f:
            a = json.load(f)
        with open(os.path.join(rundir, "drain-end.json")) as f:
            b = json.load(f)
    except (OSError, ValueError):
        a = b = None
    if a and b and paid:
        sa, sb = a["sys"], b["sys"]
        if all(t in sa and t in sb for t in SYS_TOPICS):
            d = [sb[t] - sa[t] for t in SYS_TOPICS]
            row["msgs_per_order"] = round((d[0] + d[1]) / paid, 2)
            row["pub_in_per_order"] = round(d[2] / paid, 2)
            row["pub_out_per_order"] = round(d[3] / paid, 2)
        row["cpu_us_per_order"] = {
            n: round((b["cpu"][n] - a["cpu"][n]) / CLK_TCK * 1e6 / paid)
            for n in a["cpu"] if a["cpu"][n] is not None and b["cpu"].get(n) is not None}
        row["batch"] = b.get("metrics") or {}
        row["quiet_after_s"] = b.get("quiet_after_s")
        if row["quiet_after_s"] is None:
            log(f"{label}: the bus was not quiet after the drain; msgs/order counts what had passed")
    known = [v for v in rss.values() if v is not None]
    row["rss_mib"] = round(sum(known) / 1024, 1) if known else None
    row["rundir"] = rundir
    return row


# ---------------------------------------------------------------- table

def fmt(v, digits=1):
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def cpu_names(rows):
    names = {n for r in rows for n in (r.get("cpu_us_per_order") or {})}
    return [n for n in CPU_ORDER if n in names] + sorted(names - set(CPU_ORDER))


def print_header(names):
    cols = (["run", "completed/s", "saga p50/p99 ms", "msgs/order", "pub in/out"] +
            [f"µs {n}" for n in names] + ["µs total", "RSS MiB", "batch"])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols), flush=True)


def print_row(r, names):
    cpu = r.get("cpu_us_per_order") or {}
    batch = "; ".join(f"{c}: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in f.items())
                      for c, f in (r.get("batch") or {}).items()) or "-"
    cells = [r["label"] + ("" if r.get("ok") else " (NOT ok)"), fmt(r.get("completed_per_s")),
             f"{fmt(r.get('saga_p50_ms'))} / {fmt(r.get('saga_p99_ms'))}",
             fmt(r.get("msgs_per_order")),
             f"{fmt(r.get('pub_in_per_order'))} / {fmt(r.get('pub_out_per_order'))}"]
    cells += [fmt(cpu.get(n)) for n in names]
    cells += [fmt(sum(cpu.values())) if cpu else "-", fmt(r.get("rss_mib")), batch]
    print("| " + " | ".join(cells) + " |", flush=True)


def print_ratios(rows, old_label, new_label):
    def med(label, key):
        vals = [v for v in (key(r) for r in rows if r["label"] == label) if v is not None]
        return statistics.median(vals) if vals else None

    keys = {"completed/s": lambda r: r.get("completed_per_s"),
            "saga p50": lambda r: r.get("saga_p50_ms"),
            "msgs/order": lambda r: r.get("msgs_per_order"),
            "CPU/order": lambda r: sum(r["cpu_us_per_order"].values()) if r.get("cpu_us_per_order") else None}
    parts = []
    for name, key in keys.items():
        o, n = med(old_label, key), med(new_label, key)
        if o and n is not None:
            parts.append(f"{name} x{n / o:.2f}")
    print(f"\nnew/old, medians: {', '.join(parts) or '-'} ({new_label} against {old_label})")


# ---------------------------------------------------------------- main

def parse_env(pairs):
    env = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k:
            raise SystemExit(f"--old-env/--new-env want K=V, got {p!r}")
        env[k] = v
    return env


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--hook":
        return hook(sys.argv[2])
    argv, saga_args = sys.argv[1:], []
    if "--" in argv:
        i = argv.index("--")
        argv, saga_args = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev", help="the old side: a revision (HEAD~3, a8751eb) or another checkout's path")
    ap.add_argument("--rounds", type=int, default=2, help="old+new pairs (default 2)")
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--single", type=int, default=100)
    ap.add_argument("--client", choices=["wrk", "python"],
                    default="wrk" if shutil.which("wrk") else "python")
    ap.add_argument("--old-env", action="append", default=[], metavar="K=V")
    ap.add_argument("--new-env", action="append", default=[], metavar="K=V")
    ap.add_argument("--jsonl", help="append every run's figures to this file, one JSON line each")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (builds, logs, data)")
    args = ap.parse_args(argv)
    args.saga_args = saga_args
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    for tool in ("mosquitto", "mosquitto_sub", "cmake", "git"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed")
    old_env, new_env = parse_env(args.old_env), parse_env(args.new_env)

    tmp = tempfile.mkdtemp(prefix="hausbus-compare-")
    try:
        exported = not os.path.isfile(os.path.join(args.rev, "run.sh"))
        if not exported:
            old_tree = os.path.realpath(args.rev)
            old_label = describe_checkout(old_tree)
        else:
            try:
                commit = git("rev-parse", "--verify", args.rev + "^{commit}")
            except subprocess.CalledProcessError:
                raise SystemExit(f"{args.rev}: not a revision nor a checkout with run.sh")
            old_label = git("rev-parse", "--short", commit)
            old_tree = os.path.join(tmp, "old")
            log(f"exporting {args.rev} ({old_label}) to {old_tree}")
            export_rev(commit, old_tree)
        new_tree, new_label = ROOT, describe_checkout(ROOT)
        intervals = {old_tree: sys_interval(old_tree, exported), new_tree: sys_interval(new_tree, False)}
        if old_label == new_label:
            old_label += " (old)"
        old_label += "".join(f" {k}={v}" for k, v in old_env.items())
        new_label += "".join(f" {k}={v}" for k, v in new_env.items())
        for tree in (old_tree, new_tree):
            log(f"building {tree}")
            build(tree, os.path.join(tmp, "build.log"))
        log(f"{args.rounds} rounds of {args.orders} orders at concurrency {args.concurrency} "
            f"via {args.client} (warm-up {args.warmup}, single {args.single}); "
            f"the machine is shared with whatever else runs on it")
        rows, names_printed = [], None
        for i in range(args.rounds):
            for side, (label, tree, env) in enumerate(((old_label, old_tree, old_env),
                                                       (new_label, new_tree, new_env))):
                rundir = os.path.join(tmp, f"run{i + 1}-{'new' if side else 'old'}")
                log(f"round {i + 1}: {label}")
                row = one_run(label, tree, intervals[tree], rundir, env, args)
                rows.append(row)
                if args.jsonl:
                    with open(args.jsonl, "a") as f:
                        f.write(json.dumps(row) + "\n")
                names = cpu_names(rows)
                if names != names_printed:
                    print_header(names)
                    names_printed = names
                print_row(row, names)
                if not row.get("ok"):
                    log(f"{label}: saga_load found {row.get('mismatches')} ({rundir})")
        print_ratios(rows, old_label, new_label)
        return 0 if all(r.get("ok") for r in rows) else 1
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
