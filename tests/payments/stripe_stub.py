"""A local stand-in for the parts of Stripe's API that `StripeProvider` uses.

It speaks Stripe's wire format to the official SDK: form-encoded bodies with bracketed keys,
Bearer authentication, JSON objects shaped like Stripe's, errors as `{"error": {...}}` with
Stripe's status codes, and idempotency keys that replay the first response (status and body, with
`Idempotent-Replayed: true`) and refuse the same key with other parameters. Card test tokens act
like Stripe's test cards. `mode` turns it into a failing ("error": 500 to everything, acting on
nothing) or slow ("hang": acts on the request at once, as a slow Stripe does, but answers only after
`hang_seconds`) Stripe.

PaymentIntents can be searched (`GET /v1/payment_intents/search`, exact-match clauses on
`metadata['key']` and plain fields, joined by spaces or AND), newest first. Stripe's search index
lags behind its writes; `freeze_search()` models that: searches see the intents as they were then.

`signed_event` signs a webhook body by Stripe's documented scheme, written out here rather than
borrowed from the SDK, so a test that the SDK accepts it checks both against the documentation.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
import socket
import string
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

CANCELABLE = {
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
}
# Stripe's minimum charge in BRL is R$ 0,50.
MINIMUM_CENTAVOS = 50
# One search clause: `metadata['key']:'value'` or `field:"value"`, optionally negated with `-`.
_SEARCH_CLAUSE = re.compile(
    r"""(?P<neg>-?)(?:metadata\[(?P<kq>['"])(?P<key>[^'"\]]+)(?P=kq)\]|(?P<field>[a-z_]+))"""
    r""":(?P<vq>['"])(?P<value>[^'"]*)(?P=vq)"""
)
_SEARCH_AND = re.compile(r"\s+(?:AND\s+)?", re.IGNORECASE)


def _stripe_id(prefix: str) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(24))


def parse_form(body: str) -> dict[str, Any]:
    """Decode a Stripe form body: `a[b]=1&c[0]=x` -> {"a": {"b": "1"}, "c": ["x"]}."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        node = {k: listify(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
        return node

    return listify(root)


def make_event(event_type: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    """A Stripe event (a snapshot payload) about `obj`."""
    return {
        "id": _stripe_id("evt_"),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def sign_body(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header for a raw body, as Stripe documents it:
    `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the endpoint secret>`."""
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={signature}"


def signed_event(
    payload: dict[str, Any], secret: str, timestamp: int | None = None
) -> tuple[bytes, str]:
    """The body and `Stripe-Signature` header Stripe would send for `payload`."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return body, sign_body(body, secret, timestamp)


@dataclass
class StubRequest:
    method: str
    path: str
    params: dict[str, Any]  # the form body (or query string), decoded into nested dicts/lists
    headers: dict[str, str]  # names lower-cased


class _Reply(Exception):
    """Ends a request with this status and body (errors, mostly)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(status: int, type_: str, message: str, **extra: Any) -> _Reply:
    return _Reply(status, {"error": {"type": type_, "message": message, **extra}})


@dataclass
class StripeStub:
    url: str = ""
    mode: str = "ok"  # "ok", "error" or "hang"
    hang_seconds: float = 3.0
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[StubRequest] = field(default_factory=list)
    _idempotency: dict[str, tuple[str, dict[str, Any], int, dict[str, Any]]] = field(
        default_factory=dict
    )
    _in_flight: set[str] = field(default_factory=set)
    _search_index: dict[str, dict[str, Any]] | None = None  # None: search sees every write
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    # --- helpers for tests -------------------------------------------------------------------

    def settle(self, intent_id: str, status: str) -> dict[str, Any]:
        """What Stripe does when the buyer pays (or fails 3-D Secure, or lets the PIX code
        expire): the intent leaves requires_action for `status`."""
        with self._lock:
            intent = self.intents[intent_id]
            if status == "succeeded":
                intent.update(status="succeeded", next_action=None, last_payment_error=None)
                intent["amount_received"] = intent["amount"]
                intent["latest_charge"] = _stripe_id("ch_")
            elif status == "requires_payment_method":
                pix = "pix" in intent["payment_method_types"]
                code = (
                    "payment_intent_payment_attempt_expired"
                    if pix
                    else "payment_intent_authentication_failure"
                )
                intent.update(
                    status="requires_payment_method",
                    next_action=None,
                    last_payment_error={
                        "type": "invalid_request_error" if pix else "card_error",
                        "code": code,
                        "message": "The payment attempt failed.",
                    },
                )
            elif status == "processing":
                intent.update(status="processing", next_action=None)
            else:
                raise ValueError(f"cannot settle to {status!r}")
            return dict(intent)

    def posts(self, path: str) -> list[StubRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    def gets(self, path: str) -> list[StubRequest]:
        return [r for r in self.requests if r.method == "GET" and r.path == path]

    def freeze_search(self) -> None:
        """From now on searches see the intents as they are now: later intents are not yet
        indexed and later changes not yet visible, like Stripe's search lagging its writes."""
        with self._lock:
            self._search_index = copy.deepcopy(self.intents)

    def thaw_search(self) -> None:
        """The index caught up: searches see every write again."""
        with self._lock:
            self._search_index = None

    # --- the API -----------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one request: (status, body, extra headers)."""
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer sk_"):
            raise _error(401, "invalid_request_error", "Invalid API Key provided.")
        key = headers.get("idempotency-key") if method == "POST" else None
        if not key:
            return (*self._route(method, path, params), {})
        with self._lock:
            if key in self._in_flight:
                raise _error(
                    409,
                    "idempotency_error",
                    "There is currently another in-progress request using this Idempotent Key.",
                    code="idempotency_key_in_use",
                )
            if key in self._idempotency:
                first_path, first_params, status, body = self._idempotency[key]
                if (first_path, first_params) != (path, params):
                    raise _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                    )
                return status, body, {"Idempotent-Replayed": "true", "Idempotency-Key": key}
            self._in_flight.add(key)
        try:
            try:
                status, body = self._route(method, path, params)
            except _Reply as reply:
                # Stripe keeps errors raised once the endpoint ran, declines included.
                if reply.status >= 500 or reply.body["error"]["type"] != "card_error":
                    raise
                status, body = reply.status, reply.body
            with self._lock:
                self._idempotency[key] = (path, params, status, body)
            return status, body, {"Idempotency-Key": key}
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        with self._lock:
            if method == "POST" and parts == ["v1", "payment_intents"]:
                return self._create_intent(params)
            if method == "GET" and parts == ["v1", "payment_intents", "search"]:
                return self._search_intents(params)
            if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "payment_intents"]:
                return 200, dict(self._intent(parts[2]))
            if method == "POST" and len(parts) == 4 and parts[3] == "cancel":
                return self._cancel_intent(parts[2], params)
            if method == "POST" and parts == ["v1", "refunds"]:
                return self._create_refund(params)
        raise _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _intent(self, intent_id: str) -> dict[str, Any]:
        if intent_id not in self.intents:
            raise _error(
                404,
                "invalid_request_error",
                f"No such payment_intent: '{intent_id}'",
                code="resource_missing",
                param="intent",
            )
        return self.intents[intent_id]

    def _search_intents(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        query = params.get("query")
        if not query:
            raise _error(
                400,
                "invalid_request_error",
                "Missing required param: query.",
                code="parameter_missing",
                param="query",
            )
        clauses = _parse_query(query)
        limit = int(params.get("limit", 10))
        if not 1 <= limit <= 100:
            raise _error(
                400,
                "invalid_request_error",
                "This value must be between 1 and 100.",
                code="parameter_invalid_integer",
                param="limit",
            )
        index = self.intents if self._search_index is None else self._search_index
        # Newest first; among intents of the same second, the later one first.
        ordered = sorted(enumerate(index.values()), key=lambda p: (p[1]["created"], p[0]))
        hits = [dict(intent) for _, intent in reversed(ordered) if _matches(intent, clauses)]
        return 200, {
            "object": "search_result",
            "url": "/v1/payment_intents/search",
            "has_more": len(hits) > limit,
            "data": hits[:limit],
            "next_page": None,
        }

    def _create_intent(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for name in ("amount", "currency"):
            if name not in params:
                raise _error(
                    400,
                    "invalid_request_error",
                    f"Missing required param: {name}.",
                    code="parameter_missing",
                    param=name,
                )
        amount = int(params["amount"])
        if amount < MINIMUM_CENTAVOS:
            raise _error(
                400,
                "invalid_request_error",
                "Amount must be at least R$ 0,50 brl",
                code="amount_too_small",
                param="amount",
            )
        intent_id = _stripe_id("pi_")
        types = params.get("payment_method_types") or ["card"]
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": f"{intent_id}_secret_{_stripe_id('')}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": params["currency"],
            "customer": None,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "next_action": None,
            "payment_method": params.get("payment_method"),
            "payment_method_types": types,
            "processing": None,
            "status": "requires_payment_method",
        }
        if params.get("confirm") == "true":
            self._confirm(intent, params)
        self.intents[intent_id] = intent
        return 200, dict(intent)

    def _confirm(self, intent: dict[str, Any], params: dict[str, Any]) -> None:
        """Stripe's test payment methods, as Stripe treats them on confirmation."""
        if (params.get("payment_method_data") or {}).get("type") == "pix":
            if "pix" not in intent["payment_method_types"] or intent["currency"] != "brl":
                raise _error(
                    400,
                    "invalid_request_error",
                    "The payment method type pix is invalid for this PaymentIntent.",
                    code="payment_intent_invalid_parameter",
                )
            expires_at = int(time.time()) + 3600
            pi = intent["id"]
            intent["payment_method"] = _stripe_id("pm_")
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "pix_display_qr_code",
                "pix_display_qr_code": {
                    # An EMV "copia e cola" string; the real one carries a BCB-registered key.
                    "data": f"00020101021226880014br.gov.bcb.pix2566{pi}5204000053039865802BR",
                    "expires_at": expires_at,
                    "hosted_instructions_url": f"https://payments.stripe.com/pix/instructions/{pi}",
                    "image_url_png": f"https://qr.stripe.com/{pi}.png",
                    "image_url_svg": f"https://qr.stripe.com/{pi}.svg",
                },
            }
            return
        token = params.get("payment_method")
        if token == "pm_card_visa":
            intent.update(status="succeeded", amount_received=intent["amount"])
            intent["latest_charge"] = _stripe_id("ch_")
        elif token == "pm_card_threeDSecure2Required":
            intent["status"] = "requires_action"
            return_url = params.get("return_url")
            if return_url:
                intent["next_action"] = {
                    "type": "redirect_to_url",
                    "redirect_to_url": {
                        "url": f"https://hooks.stripe.com/3d_secure_2/hosted?intent={intent['id']}",
                        "return_url": return_url,
                    },
                }
            else:
                # Without a return_url Stripe leaves 3-D Secure to Stripe.js.
                intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
        elif token == "pm_card_chargeDeclined":
            charge = _stripe_id("ch_")
            error = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "charge": charge,
                "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            }
            intent.update(latest_charge=charge, last_payment_error=error)
            self.intents[intent["id"]] = intent
            raise _Reply(402, {"error": {**error, "payment_intent": dict(intent)}})
        else:
            raise _error(
                400,
                "invalid_request_error",
                f"No such PaymentMethod: '{token}'",
                code="resource_missing",
                param="payment_method",
            )

    def _cancel_intent(self, intent_id: str, params: dict[str, Any]) -> tuple[int, dict]:
        intent = self._intent(intent_id)
        if intent["status"] not in CANCELABLE:
            raise _error(
                400,
                "invalid_request_error",
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                "may be canceled: " + ", ".join(sorted(CANCELABLE)) + ".",
                code="payment_intent_unexpected_state",
                payment_intent=dict(intent),
            )
        intent.update(
            status="canceled",
            canceled_at=int(time.time()),
            cancellation_reason=params.get("cancellation_reason"),
            next_action=None,
        )
        return 200, dict(intent)

    def _create_refund(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent_id = params.get("payment_intent")
        if not intent_id or intent_id not in self.intents:
            raise _error(
                400,
                "invalid_request_error",
                f"No such payment_intent: '{intent_id}'",
                code="resource_missing",
                param="payment_intent",
            )
        intent = self.intents[intent_id]
        if intent["status"] != "succeeded":
            raise _error(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                code="charge_not_refundable",
            )
        refunded = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent_id
        )
        amount = int(params.get("amount", intent["amount"] - refunded))
        if amount > intent["amount"] - refunded:
            raise _error(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({intent['amount'] - refunded})",
                code="amount_too_large",
                param="amount",
            )
        refund = {
            "id": _stripe_id("re_"),
            "object": "refund",
            "amount": amount,
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": params.get("metadata") or {},
            "payment_intent": intent_id,
            "reason": params.get("reason"),
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return 200, dict(refund)


def _parse_query(query: str) -> list[tuple[bool, str | None, str | None, str]]:
    """(negated, metadata key, field, value) for each clause; a 400 for anything else (OR
    included, which the stub does not need)."""
    clauses = []
    position, text = 0, query.strip()
    while True:
        match = _SEARCH_CLAUSE.match(text, position)
        if match is None:
            raise _error(
                400,
                "invalid_request_error",
                f"We were unable to parse your search query. Error at position {position}.",
                code="parameter_invalid_string",
                param="query",
            )
        clauses.append((match["neg"] == "-", match["key"], match["field"], match["value"]))
        position = match.end()
        if position == len(text):
            return clauses
        joiner = _SEARCH_AND.match(text, position)
        if joiner is None:
            raise _error(
                400,
                "invalid_request_error",
                f"We were unable to parse your search query. Error at position {position}.",
                code="parameter_invalid_string",
                param="query",
            )
        position = joiner.end()


def _matches(
    intent: dict[str, Any], clauses: list[tuple[bool, str | None, str | None, str]]
) -> bool:
    for negated, key, name, value in clauses:
        actual = (intent.get("metadata") or {}).get(key) if key else intent.get(name or "")
        if (actual is not None and str(actual) == value) == negated:
            return False
    return True


def _handler_for(stub: StripeStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else split.query
            request = StubRequest(
                method=method,
                path=split.path,
                params=parse_form(raw),
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            with stub._lock:
                stub.requests.append(request)
            mode = stub.mode
            extra: dict[str, str] = {}
            if mode == "error":
                status, body = (
                    500,
                    {"error": {"type": "api_error", "message": "An unknown error occurred."}},
                )
            else:
                try:
                    status, body, extra = stub.handle(
                        method, request.path, request.params, request.headers
                    )
                except _Reply as reply:
                    status, body = reply.status, reply.body
            # A slow Stripe has done the work (the intent exists, its key remembers the answer)
            # by the time the client gives up waiting for the answer.
            if mode == "hang" and stub._stopping.wait(stub.hang_seconds):
                return  # the stub is closing: drop the connection unanswered
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", _stripe_id("req_"))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is the point of the "hang" mode


@contextmanager
def stripe_stub() -> Iterator[StripeStub]:
    """Run a StripeStub on 127.0.0.1 (a free port) for the duration of the block."""
    stub = StripeStub()
    server = _Server(("127.0.0.1", 0), _handler_for(stub))
    host, port = server.server_address[:2]
    stub.url = f"http://{host}:{port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-stub", daemon=True
    )
    thread.start()
    try:
        yield stub
    finally:
        stub._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


WEBHOOK_SECRET = "whsec_test_local"
RETURN_URL = "https://cinema.example/payments/return"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def point_stripe_at_nothing(settings) -> None:
    """Stripe settings of a test: keys of its own, and an API base on a local port nothing listens
    on, so a test that forgot the stub fails fast instead of reaching api.stripe.com."""
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{_closed_port()}"
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_TIMEOUT_SECONDS = 1.0
    settings.STRIPE_RETURN_URL = RETURN_URL
    settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS = 300
