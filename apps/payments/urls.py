from django.urls import path

from .views import MyPurchasesView, PaymentView, UserPurchasesView

urlpatterns = [
    path("reservations/<uuid:reservation_id>/payment", PaymentView.as_view(), name="payment"),
    path("me/purchases", MyPurchasesView.as_view(), name="my-purchases"),
    path("users/<int:user_id>/purchases", UserPurchasesView.as_view(), name="user-purchases"),
]
