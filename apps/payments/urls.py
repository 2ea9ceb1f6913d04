from django.urls import path

from . import views

urlpatterns = [
    path("reservations/<uuid:reservation_id>/payment", views.PaymentView.as_view(), name="payment"),
    path("payments/webhooks/<str:provider>", views.WebhookView.as_view(), name="payment-webhook"),
    path("payments/<uuid:payment_id>", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<uuid:payment_id>/sandbox", views.SandboxView.as_view(), name="payment-sandbox"),
    path(
        "payments/<uuid:payment_id>/sandbox/pix.svg",
        views.SandboxPixQrView.as_view(),
        name="payment-sandbox-pix-qr",
    ),
    path("sales/<uuid:sale_id>/refund", views.SaleRefundView.as_view(), name="sale-refund"),
    path(
        "sessions/<int:session_id>/cancel",
        views.SessionCancelView.as_view(),
        name="session-cancel",
    ),
    path("checkins", views.CheckinView.as_view(), name="checkins"),
    path("tickets/<uuid:ticket_id>/qr.svg", views.TicketQrView.as_view(), name="ticket-qr"),
    path("me/purchases", views.MyPurchasesView.as_view(), name="my-purchases"),
    path("users/<int:user_id>/purchases", views.UserPurchasesView.as_view(), name="user-purchases"),
]
