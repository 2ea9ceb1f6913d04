"""Prometheus metrics of payments, refunds and webhooks (shared across a node's processes)."""

from prometheus_client import Counter, Histogram

SALES = Counter("cinema_sales_total", "Payments confirmed into sales.")
REVENUE = Counter("cinema_revenue_total", "Revenue of confirmed sales, in the session currency.")

PAYMENTS = Counter(
    "cinema_payments_total",
    "Payment status changes, by the status reached and the provider.",
    ["status", "provider"],
)
WEBHOOKS_RECEIVED = Counter(
    "cinema_payment_webhooks_total",
    "Provider webhooks received, by provider and result (stored, duplicate, invalid_signature).",
    ["provider", "result"],
)
WEBHOOK_LATENCY = Histogram(
    "cinema_payment_webhook_latency_seconds",
    "From a webhook stored to its event processed.",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
REFUNDS = Counter(
    "cinema_refunds_total",
    "Refunds by reason (late, requested, session_cancelled) and result (done, retry, attention).",
    ["reason", "result"],
)
RECONCILIATION_FIXES = Counter(
    "cinema_payment_reconciliation_fixes_total",
    "Payments reconciliation moved on, by the status they reached.",
    ["status"],
)
PROVIDER_ERRORS = Counter(
    "cinema_payment_provider_errors_total",
    "Provider calls that failed, by provider and kind (unavailable, error).",
    ["provider", "kind"],
)
