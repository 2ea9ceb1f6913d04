"""The admin in pt-BR has no English left in the project's own pages: list columns, filter
titles, action names and form labels all differ from their English."""

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import result_headers
from django.urls import reverse
from django.utils import translation

from tests.factories import SuperuserFactory, make_sale, make_session

pytestmark = pytest.mark.django_db

# Words that are the same in both languages.
SAME_IN_BOTH = {"total", "e-mail", "cinema"}


def project_admins() -> list:
    return sorted(
        (
            model_admin
            for model, model_admin in admin.site._registry.items()
            if model.__module__.startswith("apps.")
        ),
        key=lambda model_admin: model_admin.opts.label_lower,
    )


@pytest.fixture
def superuser_client(client):
    client.force_login(SuperuserFactory())
    session = make_session()
    make_sale(user=SuperuserFactory(), session=session)
    return client


def changelist_words(client, model_admin, language: str) -> list[str]:
    opts = model_admin.opts
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    changelist = response.context["cl"]
    with translation.override(language):
        headers = [h["text"] for h in result_headers(changelist) if h["text"]]
        filters = [str(spec.title) for spec in changelist.filter_specs]
        actions = [
            str(label)
            for name, label in changelist.model_admin.get_action_choices(response.wsgi_request)[1:]
        ]
    return [str(word) for word in headers + filters + actions]


@pytest.mark.parametrize("model_admin", project_admins(), ids=lambda m: m.opts.label_lower)
def test_list_columns_filters_and_actions_are_in_portuguese(superuser_client, model_admin):
    english = changelist_words(superuser_client, model_admin, "en")
    portuguese = changelist_words(superuser_client, model_admin, "pt-br")

    untranslated = [
        word
        for word, original in zip(portuguese, english, strict=True)
        if word == original and word.lower() not in SAME_IN_BOTH
    ]
    assert untranslated == []


@pytest.mark.parametrize(
    "page", ["screenings_session_add", "catalog_movie_add", "rooms_room_add", "rooms_cinema_add"]
)
def test_form_labels_are_in_portuguese(superuser_client, page):
    response = superuser_client.get(reverse(f"admin:{page}"), HTTP_ACCEPT_LANGUAGE="pt-br")

    labels = [
        str(field.field.label)
        for fieldset in response.context["adminform"]
        for line in fieldset
        for field in line
        if hasattr(field.field, "label")
    ]
    assert labels
    for english in ("Movie", "Room", "Starts at", "Created at", "Price", "Name"):
        assert english not in labels


def test_the_sales_list_speaks_portuguese(superuser_client):
    html = superuser_client.get(
        reverse("admin:payments_sale_changelist"), HTTP_ACCEPT_LANGUAGE="pt-br"
    ).content.decode()

    for english in (">User<", ">Session<", ">ID<", "Por created at", "By "):
        assert english not in html
