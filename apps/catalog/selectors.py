from django.db.models import QuerySet

from .models import Movie


def movie_list() -> QuerySet[Movie]:
    return Movie.objects.order_by("id")
