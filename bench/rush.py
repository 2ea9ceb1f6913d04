"""The ticket rush demo (`make rush`), against a running stack (`make run` or compose).

1. Staff create "Filme X - 19:00" in a new 20-seat room at 25.00.
2. Ten users are released at once on the same two seats: one wins, nine get 409.
3. The winner pays; the sale and the final seat map are printed.
4. A bigger wave: hundreds of users on a 100-seat session, then a one-line double-sell check.

Users and their session tokens are created directly in the database the stack uses (the demo is
about reservations, not about signing up hundreds of accounts); every other call goes through
the HTTP API. For the big wave, run the stack with a per-IP reservation limit high enough for
one machine sending everything (THROTTLE_RESERVATIONS_IP=100000/min); 429s are counted apart.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

import django
import requests

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cinema.settings.base")
django.setup()

from django.utils import timezone  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from bench.tokens import session_token_for  # noqa: E402

BASE = os.environ.get("RUSH_URL", "http://127.0.0.1:8000").rstrip("/")
WAVE_USERS = int(os.environ.get("RUSH_USERS", "300"))
RUN = uuid.uuid4().hex[:6]


def token_for(email: str, *, staff: bool = False) -> str:
    user, _ = User.objects.get_or_create(email=email, defaults={"is_staff": staff})
    return session_token_for(user)


def client(token: str) -> requests.Session:
    http = requests.Session()
    http.headers.update({"X-Session-Token": token, "Accept-Language": "en"})
    return http


def call(http: requests.Session, method: str, path: str, **kwargs) -> requests.Response:
    return http.request(method, f"{BASE}{path}", timeout=30, **kwargs)


def ok(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def make_session(
    staff: requests.Session, *, cinema: dict, rows: int, per_row: int, day: int
) -> dict:
    room = ok(
        call(
            staff,
            "POST",
            "/api/v1/rooms",
            json={
                "cinema": cinema["id"],
                "name": f"Sala {day}",
                "rows": rows,
                "seats_per_row": per_row,
            },
        ),
        201,
    )
    movie = ok(
        call(
            staff,
            "POST",
            "/api/v1/movies",
            json={"title": "Filme X", "title_pt_br": "Filme X", "duration_minutes": 120},
        ),
        201,
    )
    local = timezone.localtime() + timedelta(days=day)
    starts = timezone.make_aware(datetime(local.year, local.month, local.day, 19, 0))
    return ok(
        call(
            staff,
            "POST",
            "/api/v1/sessions",
            json={
                "movie": movie["id"],
                "room": room["id"],
                "starts_at": starts.isoformat(),
                "price": "25.00",
            },
        ),
        201,
    )


def release_together(jobs) -> list:
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index, job):
        barrier.wait()
        started = time.perf_counter()
        response = job()
        results[index] = (response, time.perf_counter() - started)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def seat_grid(staff: requests.Session, session_id: int) -> str:
    seats = ok(call(staff, "GET", f"/api/v1/sessions/{session_id}/seats"), 200)
    mark = {"available": ".", "held": "h", "sold": "X"}
    rows: dict[str, list[str]] = {}
    for seat in seats:
        rows.setdefault(seat["row"], []).append(mark[seat["status"]])
    return "\n".join(f"  {row} {' '.join(marks)}" for row, marks in rows.items())


def small_rush(staff: requests.Session, cinema: dict) -> None:
    session = make_session(staff, cinema=cinema, rows=4, per_row=5, day=1)
    seats = ok(call(staff, "GET", f"/api/v1/sessions/{session['id']}/seats"), 200)
    target = [seats[0]["id"], seats[1]["id"]]
    print(
        f"Session {session['id']}: Filme X, {session['starts_at']}, 25.00, {len(seats)} seats; "
        f"10 users go for {seats[0]['label']} and {seats[1]['label']} at the same instant"
    )
    users = [
        (f"rush-{RUN}-{i}@example.com", client(token_for(f"rush-{RUN}-{i}@example.com")))
        for i in range(10)
    ]
    results = release_together(
        [
            lambda http=http: call(
                http,
                "POST",
                "/api/v1/reservations",
                json={"session": session["id"], "seats": target},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            for _email, http in users
        ]
    )
    winners = []
    for (email, http), (response, elapsed) in zip(users, results, strict=True):
        body = response.json()
        if response.status_code == 201:
            winners.append((email, http, body))
            print(f"  201  {email:<32} reservation {body['id']}  ({elapsed * 1000:.0f} ms)")
        else:
            print(
                f"  {response.status_code}  {email:<32} {body.get('code')} "
                f"{body.get('unavailable_seats')}  ({elapsed * 1000:.0f} ms)"
            )
    print(f"=> {len(winners)} reservation, {sum(r.status_code == 409 for r, _ in results)} x 409")
    for email, http, reservation in winners:
        sale = ok(
            call(
                http,
                "POST",
                f"/api/v1/reservations/{reservation['id']}/payment",
                json={"token": "tok_visa"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            ),
            201,
        )
        tickets = ", ".join(f"{t['seat']['label']}:{t['code']}" for t in sale["tickets"])
        print(f"Sale {sale['id']} to {email}: total {sale['total']}, tickets {tickets}")
    print("Seat map (X sold, h held, . free):")
    print(seat_grid(staff, session["id"]))


def big_wave(staff: requests.Session, cinema: dict) -> None:
    session = make_session(staff, cinema=cinema, rows=10, per_row=10, day=2)
    seat_ids = [
        s["id"] for s in ok(call(staff, "GET", f"/api/v1/sessions/{session['id']}/seats"), 200)
    ]
    rng = random.Random(42)
    clients = [client(token_for(f"wave-{RUN}-{i}@example.com")) for i in range(WAVE_USERS)]
    wanted = [rng.sample(seat_ids, rng.randint(1, 4)) for _ in clients]
    print(
        f"\nBig wave: {WAVE_USERS} users at once on session {session['id']} "
        f"({len(seat_ids)} seats), 1-4 random seats each"
    )
    started = time.perf_counter()
    results = release_together(
        [
            lambda http=http, seats=seats: call(
                http,
                "POST",
                "/api/v1/reservations",
                json={"session": session["id"], "seats": seats},
            )
            for http, seats in zip(clients, wanted, strict=True)
        ]
    )
    wall = time.perf_counter() - started
    statuses = Counter(response.status_code for response, _ in results)
    won = [
        s["id"]
        for response, _ in results
        if response.status_code == 201
        for s in response.json()["seats"]
    ]
    held = [
        s["id"]
        for s in ok(call(staff, "GET", f"/api/v1/sessions/{session['id']}/seats"), 200)
        if s["status"] != "available"
    ]
    latencies = sorted(elapsed for _, elapsed in results)
    p50 = latencies[len(latencies) // 2]
    print(
        f"  {dict(statuses)} in {wall:.1f} s; latency p50 {p50 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    if statuses.get(429):
        print(
            "  (429 = the per-IP reservation limit; raise THROTTLE_RESERVATIONS_IP for this demo)"
        )
    twice = len(won) - len(set(won))
    verdict = "OK" if twice == 0 and sorted(won) == sorted(held) else "FAILED"
    print(
        f"Double-sell check: {verdict} - {len(set(won))} seats won by {statuses[201]} users, "
        f"{twice} seats given twice, seat map holds {len(held)}"
    )


def main() -> None:
    staff = client(token_for(f"rush-staff-{RUN}@example.com", staff=True))
    ok(call(staff, "GET", "/health"), 200)
    cinema = ok(
        call(staff, "POST", "/api/v1/cinemas", json={"name": f"Rush {RUN}", "city": "São Paulo"}),
        201,
    )
    small_rush(staff, cinema)
    big_wave(staff, cinema)


if __name__ == "__main__":
    main()
