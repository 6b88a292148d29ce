# Shared by the fault tests: a steady order/cancel/brand load and the saga invariants.
"""Load and invariants for the fault tests (stdlib only).

    load = SagaLoad(stack, seed, products)
    load.start(); ...inject faults...; load.stop()
    bad, checks, rounds, statuses = settle(stack, products, load.accepted)
    print_counts(load, statuses, checks, rounds)
    fail_on(test, bad)

Counts are printed so a run can be compared with another one using the same seed.
"""
import collections
import concurrent.futures
import http.client
import os
import random
import threading
import time

from hausbus_harness import PROCESSES

LIVE = ("PAID", "PREPARING", "SHIPPING", "DELIVERED")  # orders that hold their stock
FINAL = ("REJECTED", "CANCELLED") + LIVE
WAITING = ("PLACED", "STOCK_RESERVED", "CANCELLING")
# The one delivery status a settled live order agrees with.
DELIVERY_FOR = {"PAID": "RECEIVED", "PREPARING": "PREPARING", "SHIPPING": "SHIPPING",
                "DELIVERED": "DELIVERED"}
USERS = range(5101, 5121)
# Prices and the payment limit are chosen so some orders are declined: 3 x 40000 > 100000.
PAYMENT_LIMIT = 100000
# Stock runs out near the end of a run, so some orders are rejected out_of_stock too.
PRODUCTS = (("Desk Bekant", 1000, 1000), ("Chair Markus", 1000, 5000),
            ("Bed Malm", 800, 20000), ("Wardrobe Pax", 500, 40000))
# What the customers call every product they order (like the shop's old clients, which
# send a productName with every order): only the product component's name may show.
CLIENT_NAME = "Sofa"
# Short enough that a request stuck on a killed component does not stall the load.
FAULT_ENV = {"HAUSBUS_REDRIVE_MS": "500", "HAUSBUS_REQUEST_TIMEOUT_MS": "2000",
             "HAUSBUS_PAYMENT_LIMIT": str(PAYMENT_LIMIT)}


def note(what):
    """Prints what with a UTC time stamp in the components' log format, to line it up
    with their logs."""
    now = time.time()
    print("%s.%03dZ %s" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)),
                           int(now * 1000) % 1000, what), flush=True)


def seed_from_env():
    """HAUSBUS_FAULT_SEED replays a run; otherwise a fresh seed (printed by the caller)."""
    text = os.environ.get("HAUSBUS_FAULT_SEED")
    return int(text) if text else random.SystemRandom().randrange(1 << 32)


def create_products(stack):
    """Creates PRODUCTS; returns {id: initial stock}."""
    out = {}
    for name, stock, price in PRODUCTS:
        _, _, body = stack.post("/products", {"productName": name, "stock": stock,
                                              "price": price}, expect=201)
        out[body["id"]] = stock
    return out


class SagaLoad:
    """Customers placing and cancelling orders, and a brand moving deliveries on, each on
    its own thread until stop(). Every failure of a request (refused connection while the
    gateway is down, 503/504 while a component is) is counted and the load goes on."""

    def __init__(self, stack, seed, products, customers=4):
        self.stack = stack
        self.products = list(products)
        self.accepted = []  # ids answered 202 to POST /orders
        self.counts = collections.Counter()
        self._seed = seed
        self._customers = customers
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def start(self):
        for i in range(self._customers):
            self._threads.append(threading.Thread(target=self._customer, daemon=True,
                                                  args=(random.Random(self._seed + i),)))
        self._threads.append(threading.Thread(target=self._brand, daemon=True,
                                              args=(random.Random(self._seed - 1),)))
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(30)
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise AssertionError("load threads did not stop: %r" % alive)

    def wait_accepted(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.accepted) < n:
            if time.monotonic() > deadline:
                raise AssertionError("only %d of %d orders accepted within %.0fs; counts %r"
                                     % (len(self.accepted), n, timeout, dict(self.counts)))
            time.sleep(0.1)

    def _call(self, kind, method, path, body=None):
        """One request; counts its outcome under kind. Returns (status, body) or (None, None)."""
        try:
            status, _, parsed = self.stack.request(method, path, body, timeout=10)
        except (OSError, http.client.HTTPException) as e:
            with self._lock:
                self.counts["%s error %s" % (kind, type(e).__name__)] += 1
            time.sleep(0.05)  # the gateway is away: do not spin
            return None, None
        with self._lock:
            self.counts["%s %d" % (kind, status)] += 1
        return status, parsed

    def _cancel(self, order_id):
        self._call("cancel", "POST", "/orders/%d/cancel" % order_id)

    def _customer(self, rng):
        while not self._stop.is_set():
            status, body = self._call("place", "POST", "/orders", {
                "productId": rng.choice(self.products), "qty": rng.randint(1, 4),
                "userId": rng.choice(USERS), "productName": CLIENT_NAME})
            if status == 202:
                with self._lock:
                    self.accepted.append(body["id"])
                # At once (PLACED or STOCK_RESERVED), sometimes twice: a repeat must not
                # compensate again.
                if rng.random() < 0.12:
                    self._cancel(body["id"])
                    if rng.random() < 0.2:
                        self._cancel(body["id"])
            with self._lock:
                older = self.accepted[-200:]
            # Later (PAID, PREPARING, racing the brand's start, or already final).
            if older and rng.random() < 0.15:
                self._cancel(rng.choice(older))
            time.sleep(rng.uniform(0.02, 0.12))

    def _brand(self, rng):
        steps = {"RECEIVED": ("confirm", 0.6), "PREPARING": ("start", 0.5),
                 "SHIPPING": ("complete", 0.4)}
        while not self._stop.is_set():
            with self._lock:
                recent = self.accepted[-300:]
            # Per order: the unfiltered GET /deliveries fails once the list is long.
            for oid in rng.sample(recent, min(len(recent), 10)):
                status, deliveries = self._call("list", "GET", "/deliveries?orderId=%d" % oid)
                for d in deliveries if status == 200 else []:
                    step = steps.get(d["status"])
                    if step and rng.random() < step[1] and not self._stop.is_set():
                        self._call(step[0], "POST", "/deliveries/%d/%s" % (d["id"], step[0]))
            time.sleep(rng.uniform(0.05, 0.2))


def _get(stack, path, attempts=10):
    """GET answering 200; retries a while on 503/504 and refused connections, which are
    expected right after a fault (a component still catching up)."""
    for i in range(attempts):
        try:
            status, _, body = stack.request("GET", path, timeout=10)
        except (OSError, http.client.HTTPException) as e:
            status, body = None, repr(e)
        if status == 200:
            return body
        if status not in (None, 503, 504) or i == attempts - 1:
            raise AssertionError("GET %s answered %s %r" % (path, status, body))
        time.sleep(0.5)


def _get_all(stack, paths):
    """_get of every path, a few at a time; returns the bodies in the same order."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda p: _get(stack, p), paths))


def fetch_orders(stack, users=USERS):
    # Per user: an unfiltered list longer than ~128 KiB gets no answer (reported bug).
    return [o for rows in _get_all(stack, ["/orders?userId=%d" % u for u in users])
            for o in rows]


def violations(stack, products, accepted, users=USERS):
    """Checks every invariant once through the HTTP API. Returns (violations as
    {invariant: [(order id, detail), ...]}, number of individual checks done)."""
    orders = fetch_orders(stack, users)
    ids = [o["id"] for o in orders]
    payments = dict(zip(ids, _get_all(stack, ["/payments?orderId=%d" % i for i in ids])))
    deliveries = dict(zip(ids, _get_all(stack, ["/deliveries?orderId=%d" % i for i in ids])))
    catalogue = {p: _get(stack, "/products/%d" % p) for p in products}
    stocks = {p: catalogue[p]["stock"] for p in products}
    mypage = {}
    for rows in _get_all(stack, ["/mypage/%d" % u for u in users]):
        for row in rows:
            mypage.setdefault(row["orderId"], []).append(row)
    notes = collections.defaultdict(list)
    for rows in _get_all(stack, ["/notifications?userId=%d" % u for u in users]):
        for n in rows:
            notes[n["orderId"]].append(n)

    bad = collections.defaultdict(list)
    checks = 0

    def check(ok, invariant, order_id, detail):
        nonlocal checks
        checks += 1
        if not ok:
            bad[invariant].append((order_id, detail))

    by_id = {o["id"]: o for o in orders}
    for oid in accepted:
        check(oid in by_id, "accepted order exists", oid, "answered 202, missing")
    held = collections.Counter()
    for o in orders:
        oid, st = o["id"], o["status"]
        pays = payments.get(oid, [])
        pay_st = [p["status"] for p in pays]
        dels = deliveries.get(oid, [])
        del_st = [d["status"] for d in dels]
        check(st in FINAL, "saga ended", oid, st)
        records = pays + dels + mypage.get(oid, [])
        names = [o["productName"]] + [r.get("productName") for r in records]
        check(names == [catalogue[o["productId"]]["productName"]] * len(names),
              "named by the product, not the client", oid, names)
        check(len(dels) <= 1, "at most one delivery", oid, del_st)
        check(len(pays) <= 1, "at most one payment", oid, pay_st)
        if st in LIVE:
            held[o["productId"]] += o["qty"]
            check(pay_st == ["APPROVED"], "live order: one approved payment, no refund",
                  oid, (st, pay_st))
            check(del_st == [DELIVERY_FOR[st]], "live order: delivery agrees", oid,
                  (st, del_st))
        if st == "CANCELLED":
            check("APPROVED" not in pay_st, "cancelled: no approved payment", oid, pay_st)
            check(all(s == "CANCELLED" for s in del_st), "cancelled: delivery cancelled",
                  oid, del_st)
        if st == "REJECTED":
            check("APPROVED" not in pay_st, "rejected: no approved payment", oid,
                  (o["reason"], pay_st))
            check(o["reason"] != "payment_declined" or pay_st == ["DECLINED"],
                  "payment_declined: declined payment", oid, pay_st)
            check(del_st == [], "rejected: no delivery", oid, del_st)
        # SAGA.md: one message per delivery start, never two, even across restarts.
        started = [d["id"] for d in dels if d["status"] in ("SHIPPING", "DELIVERED")]
        sent = [(n["deliveryId"], n["status"]) for n in notes.get(oid, [])]
        check(sent == [(i, "SENT") for i in started], "one notification per started delivery",
              oid, (del_st, sent))
        rows = mypage.get(oid, [])
        want = {"orderStatus": st, "paymentStatus": pay_st[0] if pay_st else None,
                "deliveryStatus": del_st[0] if del_st else None, "notified": bool(started)}
        got = [{k: r[k] for k in want} for r in rows]
        check(got == [want], "mypage agrees", oid, {"mypage": got, "components": want})
    for oid in set(mypage) - set(by_id):
        check(False, "mypage has no rows for unknown orders", oid, mypage[oid])
    for p, initial in products.items():
        check(stocks[p] + held[p] == initial, "stock + live units == initial",
              "product %d" % p, "stock %d + held %d != %d" % (stocks[p], held[p], initial))
    return dict(bad), checks


def settle(stack, products, accepted, timeout=60.0):
    """Polls the invariants until all hold or timeout passes. Returns (violations of the
    last round, checks it did, rounds, order status counts)."""
    deadline = time.monotonic() + timeout
    # Cheap first: the orders alone, until none waits for a step any more.
    while time.monotonic() < deadline:
        if not any(o["status"] in WAITING for o in fetch_orders(stack)):
            break
        time.sleep(1.0)
    rounds = 0
    while True:
        bad, checks = violations(stack, products, accepted)
        rounds += 1
        if not bad or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    statuses = collections.Counter(o["status"] for o in fetch_orders(stack))
    return bad, checks, rounds, statuses


def fail_on(test, bad, timeout=60.0):
    """Fails the test with every violation and the log lines of a few offending orders."""
    if not bad:
        return
    lines = []
    for invariant, items in sorted(bad.items()):
        lines.append("%s: %d violation(s), e.g. %r" % (invariant, len(items), items[:10]))
    first_ids = sorted({oid for items in bad.values() for oid, _ in items
                        if isinstance(oid, int)})[:3]
    print_order_logs(test.stack, first_ids)
    test.fail("invariants still broken after %.0fs:\n%s" % (timeout, "\n".join(lines)))


def print_counts(load, statuses, checks, rounds, **extra):
    """One summary block: what the load did, how the orders ended, what was checked."""
    c = load.counts
    print("order statuses: %s" % dict(statuses))
    print("orders: %d accepted (202), %d in the system" % (len(load.accepted),
                                                         sum(statuses.values())))
    print("cancels: %d sent, %d answered 202, %d answered 409" % (
        sum(v for k, v in c.items() if k.startswith("cancel ")), c["cancel 202"],
        c["cancel 409"]))
    print("request outcomes: %s" % dict(sorted(c.items())))
    for key, value in extra.items():
        print("%s: %s" % (key.replace("_", " "), value))
    print("invariant checks done: %d (the last of %d rounds)" % (checks, rounds))


def print_order_logs(stack, order_ids):
    """Prints every log line about these orders, from every process, in file order."""
    for oid in order_ids:
        tag = '"orderId":%d,' % oid
        print("----- log lines of order %d -----" % oid)
        for name in PROCESSES:
            try:
                with open(os.path.join(stack.tmp, name + ".log"), "rb") as f:
                    for line in f.read().decode(errors="replace").splitlines():
                        if tag in line:
                            print(line)
            except OSError:
                pass
