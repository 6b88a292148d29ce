# The README's httpie walkthrough, run with httpie itself against a real stack on a free port.
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

from hausbus_harness import TIMEOUT_SCALE, StackTestCase

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
# Issue 10, point 7: the seed's two commands, verbatim; both answered 400 before.
ISSUE_COMMANDS = (
    "http POST :8080/products productName=TV stock=100",
    "http POST :8080/orders productId=1 productName=TV qty=10 userId=1001",
)
HTTPIE = shutil.which("http")


def walkthrough():
    """The command lines of the README's httpie block, comments dropped."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if "\nhttp " in "\n" + b]
    assert len(blocks) == 1, "expected one httpie block in README.md, found %d" % len(blocks)
    return [line.split("#", 1)[0].strip() for line in blocks[0].splitlines()
            if line.startswith("http ")]


@unittest.skipUnless(HTTPIE, "httpie is not installed (Debian package httpie)")
class HttpieWalkthroughTest(StackTestCase):

    def run_httpie(self, args):
        """httpie with args (":PORT/..." means localhost) under a private config that turns
        its update check (a fetch from httpie.io) off; returns the CompletedProcess."""
        with tempfile.TemporaryDirectory(prefix="hausbus-httpie-") as config:
            with open(os.path.join(config, "config.json"), "w") as f:
                json.dump({"disable_update_warnings": True}, f)
            return subprocess.run(
                [HTTPIE, "--ignore-stdin", "--check-status", "--timeout", "15"] + args,
                capture_output=True, text=True, timeout=30 * TIMEOUT_SCALE,
                env=dict(os.environ, HTTPIE_CONFIG_DIR=config), stdin=subprocess.DEVNULL)

    def httpie(self, line):
        """Runs one README line against our port; returns the parsed JSON answer. httpie's
        --check-status makes a 4xx or 5xx a failure."""
        argv = shlex.split(line.replace(" :8080/", " :%d/" % self.stack.http_port))
        self.assertEqual(argv[0], "http")
        proc = self.run_httpie(argv[1:])
        self.assertEqual(proc.returncode, 0, "%s: exit %d\n%s%s"
                         % (line, proc.returncode, proc.stdout, proc.stderr))
        return json.loads(proc.stdout)

    def test_readme_walkthrough_runs_as_written(self):
        lines = walkthrough()
        for command in ISSUE_COMMANDS:
            self.assertIn(command, lines)
        # What the saga must have done before a line shows it (README comments say so).
        before = {
            "http :8080/orders/1": lambda: self.wait_order(1, "PAID"),
            "http :8080/deliveries orderId==1": lambda: self.wait_delivery(1, "RECEIVED"),
            "http :8080/notifications userId==1001": lambda: self.stack.wait_for(
                lambda: self.notifications(1001, 1), until=lambda n: n and
                n[0]["status"] == "SENT", what="the notification SENT"),
            "http :8080/mypage/1001": lambda: self.wait_mypage(
                1001, 1, orderStatus="DELIVERED", deliveryStatus="DELIVERED", notified=True),
        }
        answers = {}
        for line in lines:
            if line in before:
                before[line]()
            answers[line] = self.httpie(line)

        product = answers[ISSUE_COMMANDS[0]]
        self.assertEqual(product, {"id": 1, "productName": "TV", "stock": 100, "price": 0})
        self.assertEqual(answers[ISSUE_COMMANDS[1]], {"id": 1, "status": "PLACED"})
        order = answers["http :8080/orders/1"]
        self.assertEqual((order["status"], order["amount"], order["qty"], order["userId"]),
                         ("PAID", 0, 10, 1001))
        payments = answers["http :8080/payments orderId==1"]
        self.assertEqual([(p["status"], p["amount"]) for p in payments], [("APPROVED", 0)])
        self.assertEqual(answers["http POST :8080/deliveries/1/complete"]["status"], "DELIVERED")
        row = [r for r in answers["http :8080/mypage/1001"] if r["orderId"] == 1][0]
        self.assertEqual((row["orderStatus"], row["paymentStatus"], row["amount"]),
                         ("DELIVERED", "APPROVED", 0))
        self.assertEqual(answers["http :8080/products/1"]["stock"], 90)

    def test_integer_strings_that_are_not_decimal_digits_are_400(self):
        for value in ("1.5", "1e3", "0x10", " 1", "1000001"):
            with self.subTest(qty=value):
                proc = self.run_httpie(["POST", ":%d/orders" % self.stack.http_port,
                                        "productId=1", "qty=%s" % value, "userId=1001"])
                self.assertEqual(proc.returncode, 4, proc.stdout + proc.stderr)  # a 4xx
                self.assertIn("qty must be an integer", json.loads(proc.stdout)["error"])


if __name__ == "__main__":
    unittest.main()
