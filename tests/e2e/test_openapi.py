# GET /openapi.json against the gateway that really runs: every documented operation is
# called through real HTTP (valid, unknown id, bad input), its status must be documented for
# that operation and every JSON answer must match the documented schema.
import json
import os
import re
import unittest

from board_events import BoardStream
from hausbus_harness import StackTestCase

DOC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gateway",
                        "openapi.json")
USER = 7301
UNKNOWN_ID = 4503599627370495  # the largest id: never handed out in a test


class SchemaError(AssertionError):
    pass


def resolve(doc, schema):
    while "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def validate(doc, schema, value, where="$"):
    """The OpenAPI 3.0 schema subset the document uses: type, nullable, enum, properties,
    required, additionalProperties (schema form), items, maxItems, minimum, maximum,
    minLength, maxLength, pattern, oneOf."""
    schema = resolve(doc, schema)
    if "oneOf" in schema:
        fits = 0
        for choice in schema["oneOf"]:
            try:
                validate(doc, choice, value, where)
                fits += 1
            except SchemaError:
                pass
        if fits != 1:
            raise SchemaError("%s: %r fits %d of oneOf, not 1" % (where, value, fits))
        return
    if value is None:
        if schema.get("nullable"):
            return
        raise SchemaError("%s: null is not allowed" % where)
    kind = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError("%s: %r is not an integer" % (where, value))
    elif kind in checks and not isinstance(value, checks[kind]):
        raise SchemaError("%s: %r is not a %s" % (where, value, kind))
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError("%s: %r is not one of %r" % (where, value, schema["enum"]))
    if "minimum" in schema and value < schema["minimum"]:
        raise SchemaError("%s: %r < %r" % (where, value, schema["minimum"]))
    if "maximum" in schema and value > schema["maximum"]:
        raise SchemaError("%s: %r > %r" % (where, value, schema["maximum"]))
    if kind == "string":
        if len(value.encode()) < schema.get("minLength", 0):
            raise SchemaError("%s: too short" % where)
        if "maxLength" in schema and len(value.encode()) > schema["maxLength"]:
            raise SchemaError("%s: too long" % where)
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaError("%s: %r does not match %s" % (where, value, schema["pattern"]))
    if kind == "object":
        for name in schema.get("required", []):
            if name not in value:
                raise SchemaError("%s: %s is missing" % (where, name))
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in props:
                validate(doc, props[name], item, where + "." + name)
            elif isinstance(extra, dict):
                validate(doc, extra, item, where + "." + name)
    if kind == "array":
        if len(value) > schema.get("maxItems", len(value)):
            raise SchemaError("%s: %d items" % (where, len(value)))
        for i, item in enumerate(value):
            validate(doc, schema["items"], item, "%s[%d]" % (where, i))


class OpenApiTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(DOC_PATH, encoding="utf-8") as f:
            cls.doc = json.load(f)

    def check(self, method, template, path, body=None, raw=None):
        """Calls path; the status must be documented for (method, template) and a JSON
        answer must match its schema. Returns (status, parsed body)."""
        op = self.doc["paths"][template][method.lower()]
        status, headers, parsed = self.stack.request(method, path, body=body, raw=raw)
        responses = op["responses"]
        self.assertIn(str(status), responses,
                      "%s %s answered %d %r: not documented" % (method, path, status, parsed))
        answer = resolve(self.doc, responses[str(status)])
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            try:
                validate(self.doc, schema, parsed)
            except SchemaError as e:
                self.fail("%s %s answered %d %r: %s" % (method, path, status, parsed, e))
        for name in answer.get("headers", {}):
            self.assertIn(name.lower(), headers, "%s %s: header %s" % (method, path, name))
        media = list(answer.get("content", {}))
        if media:
            # Exactly a documented media type, parameters (a charset) included: a schema
            # driven client compares the whole value.
            self.assertIn(headers.get("content-type"), media,
                          "%s %s answered %d" % (method, path, status))
        return status, parsed

    def check_stream(self, template, path):
        """Opens an event stream: its status and media type must be documented, and its
        first event must come. Returns the status."""
        op = self.doc["paths"][template]["get"]
        with BoardStream(self.stack.http_port, path) as stream:
            self.assertIn(str(stream.status), op["responses"])
            answer = resolve(self.doc, op["responses"][str(stream.status)])
            self.assertIn(stream.headers.get("content-type"), answer["content"])
            self.assertEqual(stream.next_event()[0], "snapshot")
            return stream.status

    def test_the_served_document_is_the_one_in_the_repository(self):
        status, headers, parsed = self.stack.request("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(parsed, self.doc)

    def test_every_operation_answers_as_documented(self):
        called = set()

        def call(method, template, path, **kw):
            called.add((template, method.lower()))
            return self.check(method, template, path, **kw)

        product_examples = self.request_examples("/products")
        _, product = call("POST", "/products", "/products", body=product_examples["numbers"])
        status, free = call("POST", "/products", "/products", body=product_examples["httpie"])
        self.assertEqual((status, free["stock"], free["price"]), (201, 100, 0))
        call("POST", "/products", "/products", body={"productName": "x", "stock": "1.5"})
        call("POST", "/products", "/products", body={"productName": ""})
        call("POST", "/products", "/products", raw="{not json")
        call("POST", "/products", "/products", raw="x" * 70000)
        pid = product["id"]
        order_body = {"productId": pid, "qty": 2, "userId": USER}
        _, order = call("POST", "/orders", "/orders", body=order_body)
        as_httpie = dict(self.request_examples("/orders")["httpie"], productId=str(pid),
                         userId=str(USER))
        status, _ = call("POST", "/orders", "/orders", body=as_httpie)
        self.assertEqual(status, 202)
        call("POST", "/orders", "/orders", body={"productId": pid, "qty": 0, "userId": USER})
        oid = order["id"]
        self.wait_order(oid, "PAID")
        deliveries = self.wait_for_delivery(oid)
        did = deliveries[0]["id"]
        for template, path in (("/products", "/products"),
                               ("/products/{id}", "/products/%d" % pid),
                               ("/products/{id}", "/products/%d" % UNKNOWN_ID),
                               ("/orders", "/orders?userId=%d" % USER),
                               ("/orders", "/orders?userId=abc"),
                               ("/orders/{id}", "/orders/%d" % oid),
                               ("/orders/{id}", "/orders/%d" % UNKNOWN_ID),
                               ("/deliveries", "/deliveries?orderId=%d" % oid),
                               ("/deliveries/{id}", "/deliveries/%d" % did),
                               ("/deliveries/{id}", "/deliveries/%d" % UNKNOWN_ID),
                               ("/payments", "/payments?orderId=%d" % oid),
                               ("/payments", "/payments?userid=1"),
                               ("/mypage/{userId}", "/mypage/%d" % USER),
                               ("/mypage/{userId}", "/mypage/0"),
                               ("/notifications", "/notifications?userId=%d" % USER),
                               ("/healthz", "/healthz"),
                               ("/readyz", "/readyz"),
                               ("/openapi.json", "/openapi.json"),
                               ("/board", "/board"),
                               ("/board", "/board?userId=1"),
                               ("/board/events", "/board/events?token=%"),
                               ("/metrics", "/metrics")):
            call("GET", template, path)
        called.add(("/board/events", "get"))
        self.assertEqual(self.check_stream("/board/events", "/board/events"), 200)
        for step in ("confirm", "start", "complete"):
            template = "/deliveries/{id}/" + step
            call("POST", template, "/deliveries/%d/%s" % (did, step))
            call("POST", template, "/deliveries/%d/%s" % (did, step))  # again: 200 or 409
            call("POST", template, "/deliveries/%d/%s" % (UNKNOWN_ID, step))
        self.wait_order(oid, "DELIVERED")
        status, _ = call("POST", "/orders/{id}/cancel", "/orders/%d/cancel" % oid)
        self.assertEqual(status, 409)  # delivered: too late
        _, other = call("POST", "/orders", "/orders", body=order_body)
        status, _ = call("POST", "/orders/{id}/cancel", "/orders/%d/cancel" % other["id"])
        self.assertEqual(status, 202)
        call("POST", "/orders/{id}/cancel", "/orders/%d/cancel" % UNKNOWN_ID)
        self.wait_order(other["id"], "CANCELLED")
        call("GET", "/mypage/{userId}", "/mypage/%d" % USER)
        call("GET", "/notifications", "/notifications?userId=%d" % USER)
        documented = {(path, method) for path, ops in self.doc["paths"].items()
                      for method in ops}
        self.assertEqual(called, documented)

    def request_examples(self, path):
        """name -> value of the POST request body examples of path."""
        media = self.doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        return {name: example["value"] for name, example in media["examples"].items()}

    def test_request_examples_match_their_schemas(self):
        for path in ("/products", "/orders"):
            schema = self.doc["paths"][path]["post"]["requestBody"]["content"][
                "application/json"]["schema"]
            for name, value in self.request_examples(path).items():
                with self.subTest(path=path, example=name):
                    validate(self.doc, schema, value)
        # And what the gateway refuses, the schema refuses too.
        place = {"$ref": "#/components/schemas/OrderPlace"}
        for qty in ("1.5", "1e3", "0x10", " 1", "01", 1.5, None):
            with self.subTest(qty=qty):
                with self.assertRaises(SchemaError):
                    validate(self.doc, place, {"productId": 1, "qty": qty, "userId": 1})

    def wait_for_delivery(self, order_id):
        return self.stack.wait_for(lambda: self.deliveries(order_id), timeout=10.0,
                                   what="a delivery for order %d" % order_id)


class OpenApiWithTokensTest(StackTestCase):
    """With tokens on, the document is public like /healthz, and the 401 it documents for
    the other operations is what they answer without a token."""
    stack_env = {"HAUSBUS_AUTH": "on",
                 "HAUSBUS_AUTH_SECRET": "e2e-openapi-secret-0123456789abcdef-0123"}

    def test_document_is_public_and_the_rest_needs_a_token(self):
        with open(DOC_PATH, encoding="utf-8") as f:
            doc = json.load(f)
        status, _, parsed = self.stack.request("GET", "/openapi.json")
        self.assertEqual((status, parsed), (200, doc))
        status, headers, _ = self.stack.request("GET", "/products")
        self.assertEqual(status, 401)
        self.assertIn("401", doc["paths"]["/products"]["get"]["responses"])
        self.assertIn("www-authenticate", headers)
        self.assertEqual(doc["paths"]["/openapi.json"]["get"]["security"], [])
        status, _, _ = self.stack.request("GET", "/metrics")
        self.assertEqual(status, 401)
        self.assertIn("401", doc["paths"]["/metrics"]["get"]["responses"])


if __name__ == "__main__":
    unittest.main()
