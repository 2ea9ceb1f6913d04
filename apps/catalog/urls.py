from rest_framework.routers import SimpleRouter

from .views import MovieViewSet

router = SimpleRouter(trailing_slash=False)
router.register("movies", MovieViewSet, basename="movie")

urlpatterns = router.urls
