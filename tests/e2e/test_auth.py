# Bearer tokens and roles at the gateway (docs/SECURITY.md), through real HTTP and processes.
import base64
import hashlib
import hmac
import json
import time
import unittest

from hausbus_harness import StackTestCase, mint_token

SECRET = "e2e-auth-secret-0123456789abcdef-0123456789"
ALICE = 5001  # customer A
BOB = 5002    # customer B


def mint(role, uid=None, ttl=3600, sub=None):
    """A token from hausbus-token, the operators' tool, with the stack's secret."""
    return mint_token(SECRET, role, uid, ttl, sub)


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header, payload, secret=SECRET):
    """A token made here with the standard library: for the ones hausbus-token will not make."""
    signed = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    sig = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return signed + "." + _b64(sig)


class AuthTest(StackTestCase):
    stack_env = {"HAUSBUS_AUTH": "on", "HAUSBUS_AUTH_SECRET": SECRET}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = mint("admin")
        cls.brand = mint("brand", sub="brand-ops")
        cls.alice = mint("customer", ALICE)
        cls.bob = mint("customer", BOB)

    def call(self, method, path, token, body=None, headers=None):
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        return self.stack.request(method, path, body, headers=hdrs)

    def expect(self, status, method, path, token, body=None):
        got, headers, parsed = self.call(method, path, token, body)
        self.assertEqual(got, status, "%s %s answered %d %r" % (method, path, got, parsed))
        if status >= 400:
            self.assertIsInstance(parsed, dict)
            self.assertTrue(parsed.get("error"))
        return headers, parsed

    def expect_401(self, method, path, token, body=None, headers=None, invalid=True):
        status, hdrs, parsed = self.call(method, path, token, body, headers)
        self.assertEqual(status, 401, parsed)
        self.assertTrue(parsed.get("error"), parsed)
        challenge = hdrs.get("www-authenticate", "")
        self.assertTrue(challenge.startswith("Bearer realm=\"hausbus\""), challenge)
        self.assertEqual('error="invalid_token"' in challenge, invalid, challenge)
        return parsed["error"]

    def new_product(self, stock=100, price=1000):
        _, product = self.expect(201, "POST", "/products", self.admin,
                                 {"productName": "Chair Ingolf", "stock": stock, "price": price})
        return product["id"]

    def place(self, token, user, product):
        _, order = self.expect(202, "POST", "/orders", token,
                               {"productId": product, "qty": 1, "userId": user})
        return order["id"]

    def wait_status(self, token, order_id, status):
        def fetch():
            got, _, order = self.call("GET", "/orders/%d" % order_id, token)
            self.assertEqual(got, 200, order)
            return order
        return self.stack.wait_for(fetch, until=lambda o: o["status"] == status,
                                   what="order %d to be %s" % (order_id, status))

    # --- authentication ----------------------------------------------------------------

    def test_healthz_needs_no_token_and_reports_auth_on(self):
        status, _, body = self.stack.request("GET", "/healthz")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["auth"], "on")

    def test_missing_token_is_401_with_a_bearer_challenge(self):
        self.expect_401("GET", "/products", None, invalid=False)
        self.expect_401("GET", "/mypage/%d" % ALICE, None, invalid=False)
        self.expect_401("POST", "/orders", None, {"productId": 1, "qty": 1, "userId": ALICE},
                        invalid=False)
        self.expect_401("POST", "/deliveries/1/confirm", None, invalid=False)
        # Only GET /healthz is open; unknown paths do not tell what exists.
        self.expect_401("GET", "/no/such/thing", None, invalid=False)
        self.expect_401("POST", "/healthz", None, invalid=False)
        self.expect_401("GET", "/products", None, headers={"Authorization": "Basic YTpi"})
        self.expect_401("GET", "/products", None, headers={"Authorization": "Bearer"})

    def test_bad_and_expired_tokens_are_401(self):
        now = int(time.time())
        claims = {"sub": "user:%d" % ALICE, "role": "customer", "uid": ALICE, "exp": now + 600}
        good = forge({"alg": "HS256", "typ": "JWT"}, claims)
        self.expect(200, "GET", "/mypage/%d" % ALICE, good)  # the forger itself is right

        head, payload, sig = self.alice.split(".")
        flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
        admin_payload = _b64(json.dumps({"sub": "x", "role": "admin", "exp": now + 600}).encode())
        bad = {
            "tampered signature": "%s.%s.%s" % (head, payload, flipped),
            "tampered payload": "%s.%s.%s" % (head, admin_payload, sig),
            "other secret": forge({"alg": "HS256"}, claims, "not-the-gateway-secret-0123456789ab"),
            "expired": forge({"alg": "HS256"}, dict(claims, exp=now - 3600)),
            "alg none": "%s.%s." % (_b64(b'{"alg":"none"}'), payload),
            "alg HS512": forge({"alg": "HS512"}, claims),
            "no exp": forge({"alg": "HS256"}, {k: v for k, v in claims.items() if k != "exp"}),
            "unknown role": forge({"alg": "HS256"}, dict(claims, role="root")),
            "garbage": "not-a-token",
            "overlong": forge({"alg": "HS256"}, dict(claims, pad="x" * 2000)),
        }
        for what, token in bad.items():
            with self.subTest(what):
                self.expect_401("GET", "/mypage/%d" % ALICE, token)
        error = self.expect_401("GET", "/products", bad["expired"])
        self.assertIn("expired", error)

    # --- roles ---------------------------------------------------------------------------

    def test_only_admin_creates_products_and_every_role_reads_them(self):
        product = self.new_product()
        body = {"productName": "Shelf Billy", "stock": 1, "price": 1}
        self.expect(403, "POST", "/products", self.alice, body)
        self.expect(403, "POST", "/products", self.brand, body)
        for token in (self.admin, self.brand, self.alice):
            self.expect(200, "GET", "/products/%d" % product, token)
            self.expect(200, "GET", "/products", token)

    def test_customers_see_and_cancel_only_their_own_orders(self):
        product = self.new_product()
        # Placing an order for someone else is refused before anything is placed.
        self.expect(403, "POST", "/orders", self.alice,
                    {"productId": product, "qty": 1, "userId": BOB})
        self.expect(403, "POST", "/orders", self.brand,
                    {"productId": product, "qty": 1, "userId": BOB})
        order = self.place(self.alice, ALICE, product)
        self.wait_status(self.alice, order, "PAID")

        self.expect(403, "GET", "/orders/%d" % order, self.bob)
        self.expect(403, "POST", "/orders/%d/cancel" % order, self.bob)
        self.expect(403, "GET", "/orders/%d" % order, self.brand)
        self.expect(404, "GET", "/orders/99999999", self.bob)
        self.expect(404, "POST", "/orders/99999999/cancel", self.bob)
        # Bob's cancel was not forwarded: Alice's order is still PAID.
        _, seen = self.expect(200, "GET", "/orders/%d" % order, self.admin)
        self.assertEqual((seen["status"], seen["userId"]), ("PAID", ALICE))

        self.expect(403, "GET", "/mypage/%d" % ALICE, self.bob)
        self.expect(403, "GET", "/notifications?userId=%d" % ALICE, self.bob)
        self.expect(403, "GET", "/orders?userId=%d" % ALICE, self.bob)
        self.expect(403, "GET", "/orders", self.bob)  # every user's orders
        self.expect(403, "GET", "/payments?orderId=%d" % order, self.alice)
        self.expect(403, "GET", "/deliveries?orderId=%d" % order, self.alice)
        _, mine = self.expect(200, "GET", "/orders?userId=%d" % ALICE, self.alice)
        self.assertEqual([o["id"] for o in mine], [order])
        _, theirs = self.expect(200, "GET", "/orders?userId=%d" % BOB, self.bob)
        self.assertEqual(theirs, [])
        self.expect(200, "GET", "/notifications?userId=%d" % ALICE, self.alice)
        self.expect(200, "GET", "/payments?orderId=%d" % order, self.admin)

        # The owner may cancel; so may an admin (a second cancel is accepted again).
        self.expect(202, "POST", "/orders/%d/cancel" % order, self.alice)
        self.wait_status(self.alice, order, "CANCELLED")
        self.expect(202, "POST", "/orders/%d/cancel" % order, self.admin)

    def test_only_the_brand_runs_deliveries(self):
        product = self.new_product()
        order = self.place(self.alice, ALICE, product)
        self.wait_status(self.alice, order, "PAID")
        deliveries = self.stack.wait_for(
            lambda: self.expect(200, "GET", "/deliveries?orderId=%d" % order, self.brand)[1],
            until=lambda d: len(d) == 1 and d[0]["status"] == "RECEIVED",
            what="one RECEIVED delivery")
        delivery = deliveries[0]["id"]
        for step in ("confirm", "start", "complete"):
            self.expect(403, "POST", "/deliveries/%d/%s" % (delivery, step), self.alice)
            self.expect(403, "POST", "/deliveries/%d/%s" % (delivery, step), self.admin)
        self.expect(403, "GET", "/deliveries/%d" % delivery, self.alice)
        self.expect(200, "GET", "/deliveries/%d" % delivery, self.admin)
        _, body = self.expect(200, "GET", "/deliveries/%d" % delivery, self.brand)
        self.assertEqual(body["status"], "RECEIVED")  # nothing moved it

        _, body = self.expect(200, "POST", "/deliveries/%d/confirm" % delivery, self.brand)
        self.assertEqual(body["status"], "PREPARING")
        self.expect(200, "POST", "/deliveries/%d/start" % delivery, self.brand)
        self.wait_status(self.alice, order, "SHIPPING")
        self.expect(200, "POST", "/deliveries/%d/complete" % delivery, self.brand)
        self.wait_status(self.alice, order, "DELIVERED")
        self.stack.wait_for(
            lambda: self.expect(200, "GET", "/mypage/%d" % ALICE, self.alice)[1],
            until=lambda r: any(x["orderId"] == order and x["deliveryStatus"] == "DELIVERED"
                                for x in r),
            what="Alice's mypage to show the delivery")
        self.expect(200, "GET", "/mypage/%d" % BOB, self.admin)


if __name__ == "__main__":
    unittest.main()
