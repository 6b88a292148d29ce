# Data files are private: databases (-wal, -shm), heartbeats and the data dir itself are
# created 0600 / 0700 whatever the umask, and a database created before keeps working.
import os
import stat
import unittest

from hausbus_harness import POSTGRES, Stack, StackTestCase

SQLITE_ONLY = unittest.skipIf(POSTGRES, "about sqlite's files; on PostgreSQL there are none")


def modes(root):
    """path -> (permission bits, is a directory) of root and of everything below it."""
    found = {}
    for path in [root] + [os.path.join(folder, name) for folder, dirs, files in os.walk(root)
                          for name in dirs + files]:
        st = os.lstat(path)
        found[path] = (stat.S_IMODE(st.st_mode), stat.S_ISDIR(st.st_mode))
    return found


@SQLITE_ONLY
class FileModesTest(unittest.TestCase):

    def run_saga_with_umask(self, umask):
        """Starts a stack under umask with a data dir the components create themselves,
        runs an order to PAID, and returns the modes of what is in the data dir."""
        old = os.umask(umask)
        try:
            stack = Stack()
            data_dir = os.path.join(stack.tmp, "private")  # not there yet: they create it
            stack.env["HAUSBUS_DATA_DIR"] = data_dir
            with stack:
                case = StackTestCase()
                case.stack = stack
                product = case.create_product("Chair Ekedalen", 5, 3000)
                order_id = case.place(product, 1, 4101)
                case.wait_order(order_id, "PAID")
                beat = os.path.join(data_dir, "order.heartbeat")
                stack.wait_for(lambda: os.path.exists(beat), what="order's heartbeat")
                found = modes(data_dir)
        finally:
            os.umask(old)
        return data_dir, found

    def assert_private(self, data_dir, found):
        names = {os.path.relpath(p, data_dir) for p in found}
        for expected in ("order.db", "order.db-wal", "order.heartbeat", "payment.db"):
            self.assertIn(expected, names)
        for path, (mode, is_dir) in found.items():
            want = 0o700 if is_dir else 0o600
            self.assertEqual(mode, want, "%s is %o, expected %o" % (path, mode, want))

    def test_umask_000_still_gives_private_files(self):
        self.assert_private(*self.run_saga_with_umask(0o000))

    def test_umask_022_still_gives_private_files(self):
        self.assert_private(*self.run_saga_with_umask(0o022))


@SQLITE_ONLY
class ExistingDatabaseTest(StackTestCase):
    """A database created world-readable by an older release opens and keeps working."""

    def test_existing_world_readable_database_keeps_working(self):
        product = self.create_product("Shelf Billy", 5, 5900)
        self.stack.kill("product", sig=15)
        path = os.path.join(self.stack.data_dir, "product.db")
        os.chmod(path, 0o644)
        self.stack.start("product")
        self.assertEqual(self.stock(product), 5)
        order_id = self.place(product, 2, 4102)
        self.wait_order(order_id, "PAID")
        self.assertEqual(self.stock(product), 3)


@SQLITE_ONLY
class WalSizeTest(unittest.TestCase):
    """HAUSBUS_SQLITE_WAL_KB bounds a database's WAL file: sqlite checkpoints it at that
    size and cuts it back after, where the default lets it grow to 40 MiB."""

    ORDERS = 40

    def wal_after_orders(self, env):
        with Stack(env=env) as stack:
            case = StackTestCase()
            case.stack = stack
            product = case.create_product("Stool Frosta", self.ORDERS, 100)
            ids = [case.place(product, 1, 4200 + i) for i in range(self.ORDERS)]
            for order_id in ids:
                case.wait_order(order_id, "PAID")
            return os.path.getsize(os.path.join(stack.data_dir, "order.db-wal"))

    def test_wal_stays_near_its_limit(self):
        bounded = self.wal_after_orders({"HAUSBUS_SQLITE_WAL_KB": "256"})
        # One transaction may finish past the limit before the checkpoint.
        self.assertLessEqual(bounded, 384 * 1024)
        self.assertGreater(self.wal_after_orders({}), 2 * bounded)


if __name__ == "__main__":
    unittest.main()
