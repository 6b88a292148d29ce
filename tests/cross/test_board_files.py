# board/<profile>/ holds a toolchain file and a commented defaults.env, and nothing else.
"""Checks the board folders against the house layout (docs: board/README.md)."""
import os
import re
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BOARD = os.path.join(ROOT, "board")
ASSIGNMENT = re.compile(r"^(HAUSBUS_[A-Z0-9_]+)=(.*)$")


# Folders of board/ that are not profiles: the systemd units every profile uses.
NOT_PROFILES = {"systemd"}


def profiles():
    return sorted(d for d in os.listdir(BOARD)
                  if os.path.isdir(os.path.join(BOARD, d)) and d not in NOT_PROFILES)


def documented_variables():
    """Every HAUSBUS_* name in the README's Configuration table."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`(HAUSBUS_[A-Z0-9_]+)`", section))


class BoardFilesTest(unittest.TestCase):
    def test_the_three_profiles_exist(self):
        self.assertEqual(profiles(), ["armhf-small", "pod-x86_64", "rpi-arm64"])

    def test_a_profile_holds_only_its_toolchain_and_defaults(self):
        for p in profiles():
            self.assertEqual(sorted(os.listdir(os.path.join(BOARD, p))),
                             ["defaults.env", "toolchain.cmake"], p)

    def test_toolchain_names_its_debian_arch_and_triplet(self):
        for p in profiles():
            with open(os.path.join(BOARD, p, "toolchain.cmake")) as f:
                text = f.read()
            self.assertRegex(text, r"(?m)^set\(HB_DEBIAN_ARCH [a-z0-9]+\)$", p)
            self.assertRegex(text, r"(?m)^set\(HB_TRIPLET [a-z0-9_]+-linux-gnu[a-z]*\)$", p)

    def test_defaults_set_only_documented_variables_each_with_a_reason(self):
        known = documented_variables()
        self.assertIn("HAUSBUS_HTTP_THREADS", known)
        for p in profiles():
            with open(os.path.join(BOARD, p, "defaults.env")) as f:
                lines = f.read().splitlines()
            self.assertTrue(lines[0].startswith("# " + p + ":"), p)
            seen = set()
            above = None  # the last line that is not an assignment
            for n, line in enumerate(lines, 1):
                where = "%s/defaults.env:%d" % (p, n)
                m = ASSIGNMENT.match(line)
                if not m:
                    self.assertTrue(line == "" or line.startswith("#"), where)
                    above = line
                    continue
                name, value = m.groups()
                self.assertIn(name, known, where + ": not in README Configuration")
                self.assertNotIn(name, seen, where + ": set twice")
                seen.add(name)
                # Plain values: systemd's EnvironmentFile= and `. file` must read the same.
                self.assertRegex(value, r"^[A-Za-z0-9_./:,-]+$", where)
                self.assertTrue(above is not None and above.startswith("#"),
                                where + ": no comment saying why")


if __name__ == "__main__":
    unittest.main()
