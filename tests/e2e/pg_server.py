# A private PostgreSQL server for one test stack: initdb in a temp dir, a free loopback
# port, run as an unprivileged user (PostgreSQL refuses root). Stdlib only.
"""PostgresServer: start(), url, stop(), kill(), restart().

The cluster is made once per process (initdb takes a second or two) and copied for each
server. fsync is off: a test kills processes, not the machine, and what a committed
transaction wrote is in the kernel's page cache either way (synchronous_commit stays on,
so a kill -9 of the server loses nothing committed).
"""
import atexit
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TEMPLATE = None  # the initdb'ed cluster this process copies


def bin_dir():
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                             timeout=10)
        if out.returncode == 0 and os.path.exists(os.path.join(out.stdout.strip(), "postgres")):
            return out.stdout.strip()
    except OSError:
        pass
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries: install Debian's postgresql")
    return os.path.dirname(found[-1])


def run_as():
    """The command prefix and uid that run the server: as root, the postgres user (Debian's
    package makes it) or nobody; otherwise the current user."""
    if os.geteuid() != 0:
        return [], os.getuid(), os.getgid()
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"], user.pw_uid, user.pw_gid
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user to run PostgreSQL as")


def chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def template():
    global TEMPLATE
    if TEMPLATE is None:
        prefix, uid, gid = run_as()
        root = tempfile.mkdtemp(prefix="hausbus-pg-template-")
        os.chmod(root, 0o755)
        data = os.path.join(root, "data")
        os.mkdir(data, 0o700)
        chown_tree(root, uid, gid)
        subprocess.run(prefix + [os.path.join(bin_dir(), "initdb"), "-D", data, "-U", "hausbus",
                                 "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
                       check=True, capture_output=True, timeout=120)
        TEMPLATE = root
        atexit.register(shutil.rmtree, root, True)
    return TEMPLATE


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:

    def __init__(self):
        self.prefix, self.uid, self.gid = run_as()
        self.root = tempfile.mkdtemp(prefix="hausbus-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        shutil.copytree(os.path.join(template(), "data"), self.data)
        os.chmod(self.data, 0o700)
        chown_tree(self.root, self.uid, self.gid)
        self.port = free_port()
        self.url = "postgresql://hausbus@127.0.0.1:%d/hausbus" % self.port
        self.log_path = os.path.join(self.root, "postgres.log")
        self.proc = None
        self.created = False

    def start(self, timeout=30.0):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.prefix + [os.path.join(bin_dir(), "postgres"), "-D", self.data,
                           "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
                           "-c", "unix_socket_directories=" + self.root, "-c", "fsync=off",
                           "-c", "max_connections=200", "-c", "shared_buffers=32MB"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            ready = subprocess.run([os.path.join(bin_dir(), "pg_isready"), "-q", "-h",
                                    "127.0.0.1", "-p", str(self.port), "-U", "hausbus", "-d", "postgres"],
                                   timeout=10)
            if ready.returncode == 0:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start: " + self.log_tail())
            time.sleep(0.1)
        if not self.created:
            self.psql("CREATE DATABASE hausbus", db="postgres")
            self.created = True

    def psql(self, sql, db="hausbus"):
        """Runs sql as the superuser; returns its output rows (tab-separated, unaligned)."""
        out = subprocess.run([os.path.join(bin_dir(), "psql"), "-X", "-q", "-At", "-h",
                              "127.0.0.1", "-p", str(self.port), "-U", "hausbus", "-d", db,
                              "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, out.stderr.strip()))
        return [line for line in out.stdout.splitlines() if line]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def kill(self):
        """kill -9 of the server and all its processes, as a crash leaves it: the lock file
        stays and the next start recovers from the WAL."""
        pid = self.postmaster_pid()
        self.signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(10)
        # Its parent (runuser) died with it, so the postmaster may linger as a zombie until
        # init reaps it, and PostgreSQL refuses to start while that pid exists.
        deadline = time.monotonic() + 10
        while pid and time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().split(")")[-1].split()[0] == "Z":
                        break
            except OSError:
                break
            time.sleep(0.02)
        if pid and os.path.exists("/proc/%d" % pid):
            for stale in [os.path.join(self.data, "postmaster.pid")] + glob.glob(
                    os.path.join(self.root, ".s.PGSQL.*")):
                os.unlink(stale)

    def stop(self, timeout=15.0):
        """A fast shutdown (SIGINT: open sessions are ended); SIGKILL when it hangs."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self, kill=False, pause=0.0):
        self.kill() if kill else self.stop()
        time.sleep(pause)
        self.start()

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
