# board/systemd/ units: the settings supervision depends on, and systemd's own verdict on them.
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
UNITS = os.path.join(ROOT, "board", "systemd")
INSTALL_DIR = "/usr/local/bin"  # where container/Containerfile and board/README.md put them
ALL_IN_ONE = "hausbus"
TICK_S = 1  # lib/src/runtime.c pings the watchdog once per tick
BOARD_RAM_BYTES = 64 << 20


def parse_unit(path):
    """section -> list of (key, value), repeated keys kept, comments and blanks skipped."""
    sections, current = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), [])
                continue
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def values(unit, section, key):
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit, section, key):
    found = values(unit, section, key)
    if len(found) != 1:
        raise AssertionError("%s= in [%s]: expected once, got %r" % (key, section, found))
    return found[0]


def seconds(text):
    match = re.fullmatch(r"(\d+)\s*(ms|s|min)?", text)
    if not match:
        raise AssertionError("not a time span: %r" % text)
    return int(match.group(1)) * {"ms": 0.001, "s": 1, None: 1, "min": 60}[match.group(2)]


def size_bytes(text):
    match = re.fullmatch(r"(\d+)([KMG]?)", text)
    if not match:
        raise AssertionError("not a size: %r" % text)
    return int(match.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2)]


def separate_programs():
    """HB_SERVICES of scripts/common.sh: the separate executables a build makes (the
    all-in-one `hausbus` is the rest of HB_PROGRAMS)."""
    with open(os.path.join(ROOT, "scripts", "common.sh")) as f:
        match = re.search(r"HB_SERVICES=\(([^)]*)\)", f.read())
    return match.group(1).split()


class UnitSettings(unittest.TestCase):

    def setUp(self):
        self.services = {name: parse_unit(os.path.join(UNITS, name))
                         for name in ("hausbus.service", "hausbus@.service")}

    def test_services_are_notify_with_watchdog_and_restart(self):
        for name, unit in self.services.items():
            with self.subTest(unit=name):
                self.assertEqual(one(unit, "Service", "Type"), "notify")
                self.assertEqual(one(unit, "Service", "NotifyAccess"), "main")
                # Pings come once per tick: half the timeout must leave room for a slow one.
                self.assertGreaterEqual(seconds(one(unit, "Service", "WatchdogSec")) / 2,
                                        3 * TICK_S)
                self.assertEqual(one(unit, "Service", "Restart"), "on-failure")
                self.assertGreater(seconds(one(unit, "Service", "RestartSec")), 0)
                self.assertGreater(int(one(unit, "Unit", "StartLimitBurst")), 1)
                self.assertGreater(seconds(one(unit, "Unit", "StartLimitIntervalSec")),
                                   seconds(one(unit, "Service", "RestartSec")) *
                                   int(one(unit, "Unit", "StartLimitBurst")))

    def test_exec_start_runs_the_installed_programs(self):
        self.assertEqual(one(self.services["hausbus.service"], "Service", "ExecStart"),
                         "%s/%s" % (INSTALL_DIR, ALL_IN_ONE))
        self.assertEqual(one(self.services["hausbus@.service"], "Service", "ExecStart"),
                         INSTALL_DIR + "/hausbus-%i")
        with open(os.path.join(ROOT, "container", "Containerfile")) as f:
            self.assertIn(INSTALL_DIR, f.read())
        # hausbus.target starts one instance per program the build makes, and no other.
        target = parse_unit(os.path.join(UNITS, "hausbus.target"))
        wanted = " ".join(values(target, "Unit", "Wants")).split()
        self.assertEqual(sorted(wanted), sorted("hausbus@%s.service" % p[len("hausbus-"):]
                                                for p in separate_programs()))
        bin_dir = os.environ.get("HAUSBUS_BIN_DIR")
        if bin_dir:
            for program in separate_programs():
                self.assertTrue(os.access(os.path.join(bin_dir, program), os.X_OK), program)

    def test_data_dir_is_the_state_directory_and_env_file_is_optional(self):
        for name, unit in self.services.items():
            with self.subTest(unit=name):
                self.assertEqual(one(unit, "Service", "StateDirectory"), "hausbus")
                self.assertIn("HAUSBUS_DATA_DIR=%S/hausbus", values(unit, "Service", "Environment"))
                self.assertIn("-/etc/hausbus/defaults.env",
                              values(unit, "Service", "EnvironmentFile"))
                self.assertEqual(one(unit, "Service", "User"), "hausbus")

    def test_hardening_and_memory_bound(self):
        for name, unit in self.services.items():
            with self.subTest(unit=name):
                for key, expected in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                                      ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                                      ("CapabilityBoundingSet", "")):
                    self.assertEqual(one(unit, "Service", key), expected, key)
                # The notify socket is a unix socket: without AF_UNIX READY=1 never arrives.
                families = one(unit, "Service", "RestrictAddressFamilies").split()
                self.assertEqual(sorted(families), ["AF_INET", "AF_INET6", "AF_UNIX"])
                high = size_bytes(one(unit, "Service", "MemoryHigh"))
                limit = size_bytes(one(unit, "Service", "MemoryMax"))
                self.assertLess(high, limit)
                self.assertLessEqual(limit, BOARD_RAM_BYTES // 1.5)

    def test_ordered_after_the_broker_without_depending_on_it(self):
        for name, unit in self.services.items():
            with self.subTest(unit=name):
                self.assertIn("mosquitto.service", " ".join(values(unit, "Unit", "After")).split())
                self.assertIn("mosquitto.service", " ".join(values(unit, "Unit", "Wants")).split())
                # Requires= or BindsTo= would stop us with every broker restart.
                self.assertEqual(values(unit, "Unit", "Requires") + values(unit, "Unit", "BindsTo"),
                                 [])


class SystemdVerify(unittest.TestCase):
    """systemd-analyze verify in a private root: the units, the system's own units (targets
    they refer to) and the programs at their installed paths."""

    def test_units_pass_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze not installed (Debian package systemd)")
        system_units = next((d for d in ("/lib/systemd/system", "/usr/lib/systemd/system")
                             if os.path.isdir(d)), None)
        if system_units is None:
            self.skipTest("no system unit directory to verify against")
        bin_dir = os.environ.get("HAUSBUS_BIN_DIR", "")
        root = tempfile.mkdtemp(prefix="hausbus-systemd-")
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        shutil.copytree(system_units, os.path.join(root, "lib", "systemd", "system"),
                        symlinks=True)
        unit_dir = os.path.join(root, "etc", "systemd", "system")
        os.makedirs(unit_dir)
        for name in os.listdir(UNITS):
            shutil.copy(os.path.join(UNITS, name), unit_dir)
        installed = os.path.join(root, INSTALL_DIR.lstrip("/"))
        os.makedirs(installed)
        for program in separate_programs() + [ALL_IN_ONE]:
            built = os.path.join(bin_dir, program)
            dest = os.path.join(installed, program)
            if os.access(built, os.X_OK):
                shutil.copy(built, dest)
            else:
                # Not built in this tree (the all-in-one lands separately): verify checks
                # only that ExecStart names an executable.
                with open(dest, "w") as f:
                    f.write("#!/bin/sh\n")
                os.chmod(dest, stat.S_IRWXU)
        units = (["hausbus.service", "hausbus.target"] +
                 ["hausbus@%s.service" % p[len("hausbus-"):] for p in separate_programs()])
        try:
            res = subprocess.run([analyze, "verify", "--root=" + root] + units,
                                 capture_output=True, text=True, timeout=60)
        except OSError as e:
            self.skipTest("systemd-analyze cannot run here: %s" % e)
        # Any message (an unknown key, a bad value, a missing program) is a failure.
        self.assertEqual((res.returncode, res.stdout + res.stderr), (0, ""))


if __name__ == "__main__":
    unittest.main()
