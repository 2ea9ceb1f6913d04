"""The staff site: the product's name, one name per section, no link to a site that does not
exist, and a delete page that says what really stops a delete."""

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.staff.site import StaffAdminSite
from apps.stats.models import SessionStats
from tests.factories import SuperuserFactory, UserFactory, hold, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(SuperuserFactory())
    return client


def test_the_admin_is_the_staff_site():
    assert isinstance(admin.site, StaffAdminSite)


def test_the_index_carries_the_product_name_in_portuguese(superuser_client):
    response = superuser_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="pt-br")

    content = response.content.decode()
    assert "Cinema · equipe" in content
    assert "<title>Início da equipe | Equipe do cinema</title>" in content
    assert "Django" not in content


def test_there_is_no_view_site_link(superuser_client):
    response = superuser_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en")

    assert response.context["site_url"] is None
    assert "View site" not in response.content.decode()


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_every_section_has_a_name_of_its_own(superuser_client, language):
    response = superuser_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE=language)

    names = [str(app["name"]) for app in response.context["app_list"]]
    assert len(names) == len(set(names)), names


def test_deleting_a_session_asks_no_permission_for_its_statistics(superuser_client):
    session = make_session()
    SessionStats.objects.create(session=session)
    url = reverse("admin:screenings_session_delete", args=[session.pk])

    page = superuser_client.get(url)
    assert not page.context["perms_lacking"]
    assert not page.context["protected"]

    superuser_client.post(url, {"post": "yes"})
    assert not SessionStats.objects.filter(session_id=session.pk).exists()


def test_a_session_with_holds_names_them_as_what_protects_it(superuser_client):
    session = make_session()
    SessionStats.objects.create(session=session)
    reservation = hold(UserFactory(), session)

    page = superuser_client.get(
        reverse("admin:screenings_session_delete", args=[session.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert not page.context["perms_lacking"]
    assert any(str(reservation.pk) in str(row) for row in page.context["protected"])
    assert "your account doesn't have permission" not in page.content.decode()
