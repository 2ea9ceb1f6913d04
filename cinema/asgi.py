"""The stream server's application (`make stream`: uvicorn cinema.asgi:application).

The live seat map's stream path goes straight to its own ASGI app (apps.bookings.stream_views),
so an open stream is a coroutine and holds no thread; everything else is Django's ASGI handler
(health, metrics, and the rest of the API should a request land here)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cinema.settings.base")

django_application = get_asgi_application()

# Imported once Django is set up (get_asgi_application does it).
from apps.bookings.stream_views import seat_stream_app, stream_session  # noqa: E402


async def application(scope, receive, send):
    if scope["type"] == "http":
        session_id = stream_session(scope["path"])
        if session_id is not None:
            await seat_stream_app(scope, receive, send, session_id)
            return
    await django_application(scope, receive, send)
