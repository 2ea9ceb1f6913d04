"""Benchmark of the reservation path through two gunicorn instances (`make bench`).

Reports (1) reservations per second on uncontended seats and (2) how fast the losers of a rush on
the same seats get their 409. Uses its own database (`cinema_bench`), recreated on each run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DB_NAME = os.environ.get("BENCH_DB", "cinema_bench")
DB_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
PORTS = (8701, 8702)
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
UNCONTENDED_SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
RUSH_CLIENTS = int(os.environ.get("BENCH_RUSH_CLIENTS", "100"))
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "cinema.settings.base",
    "DATABASE_URL": DB_URL,
    "THROTTLE_RESERVATIONS": "1000000/min",
    "THROTTLE_RESERVATIONS_IP": "1000000/min",
    "THROTTLE_USER": "1000000/min",
    "THROTTLE_ANON": "1000000/min",
    "ACCOUNT_RATE_LIMITS_ENABLED": "false",
    "LOG_LEVEL": "WARNING",
}
PASSWORD = "bench-Passw0rd!"


def manage(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=ENV, check=True, capture_output=True
    )
    return result.stdout.decode()


def prepare() -> tuple[int, list[int], list[str]]:
    """Fresh database, one 1,040-seat session, CLIENTS + RUSH_CLIENTS users."""
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"],
        check=True,
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {DB_NAME}"],
        check=True,
    )
    manage("migrate", "--noinput")
    users = max(CLIENTS, RUSH_CLIENTS)
    script = f"""
from datetime import timedelta
from decimal import Decimal
from django.utils import timezone
from apps.accounts.models import User
from apps.catalog.models import Movie
from apps.rooms.layout import grid
from apps.rooms.models import Cinema
from apps.rooms.services import room_create
from apps.sessions.services import session_create
movie = Movie.objects.create(title_pt_br="Bench", duration_minutes=100)
room = room_create(cinema=Cinema.objects.create(name="Bench", city="X"), name="Big",
                   positions=grid(26, 40))
session = session_create(movie=movie, room=room, starts_at=timezone.now() + timedelta(days=1),
                         price=Decimal("20.00"))
for i in range({users}):
    User.objects.create_user(f"bench{{i}}@example.com", "{PASSWORD}")
print(session.id, *session.seats.order_by("id").values_list("id", flat=True))
"""
    out = manage("shell", "-c", script).strip().splitlines()[-1].split()
    return int(out[0]), [int(x) for x in out[1:]], [f"bench{i}@example.com" for i in range(users)]


def start_servers() -> list[subprocess.Popen]:
    servers = [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "cinema.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "3",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=ENV,
        )
        for port in PORTS
    ]
    for port in PORTS:
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
    return servers


def login(port: int, email: str) -> requests.Session:
    http = requests.Session()
    response = http.post(
        f"http://127.0.0.1:{port}/_allauth/app/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        timeout=10,
    )
    response.raise_for_status()
    http.headers["X-Session-Token"] = response.json()["meta"]["session_token"]
    return http


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def uncontended(session_id: int, seats: list[int], emails: list[str]) -> None:
    clients = [login(PORTS[i % 2], emails[i]) for i in range(CLIENTS)]
    # Each client owns its own slice of seats: nobody ever competes.
    slices = [seats[i::CLIENTS] for i in range(CLIENTS)]
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + UNCONTENDED_SECONDS

    def run(index: int) -> None:
        port = PORTS[index % 2]
        for seat in slices[index]:
            if time.monotonic() >= stop_at:
                return
            started = time.perf_counter()
            response = clients[index].post(
                f"http://127.0.0.1:{port}/api/v1/reservations",
                json={"session": session_id, "seats": [seat]},
                timeout=30,
            )
            elapsed = time.perf_counter() - started
            with lock:
                (latencies if response.status_code == 201 else errors).append(
                    elapsed if response.status_code == 201 else response.status_code
                )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    print(
        f"uncontended: {len(latencies)} reservations in {wall:.1f} s by {CLIENTS} clients "
        f"over 2 instances = {len(latencies) / wall:.0f} reservations/s; latency p50 "
        f"{percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms;"
        f" non-201: {len(errors)}"
    )


def rush(session_id: int, seats: list[int], emails: list[str]) -> None:
    clients = [login(PORTS[i % 2], emails[i]) for i in range(RUSH_CLIENTS)]
    target = seats[-2:]
    barrier = threading.Barrier(RUSH_CLIENTS)
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        response = clients[index].post(
            f"http://127.0.0.1:{PORTS[index % 2]}/api/v1/reservations",
            json={"session": session_id, "seats": target},
            timeout=30,
        )
        with lock:
            results.append((response.status_code, time.perf_counter() - started))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RUSH_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    losers = [t for status, t in results if status == 409]
    winners = [status for status, _ in results if status == 201]
    print(
        f"rush: {RUSH_CLIENTS} clients on the same 2 seats -> {len(winners)} winner, "
        f"{len(losers)} x 409; 409 latency p50 {percentile(losers, 50) * 1000:.0f} ms, "
        f"p95 {percentile(losers, 95) * 1000:.0f} ms, max {max(losers) * 1000:.0f} ms"
    )


def main() -> None:
    session_id, seats, emails = prepare()
    servers = start_servers()
    try:
        uncontended(session_id, seats[:-2], emails)
        rush(session_id, seats, emails)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait()


if __name__ == "__main__":
    main()
