"""Create the configured PostgreSQL database if it does not exist yet (for `make run`)."""

from __future__ import annotations

from typing import Any

import psycopg
from django.core.management.base import BaseCommand
from django.db import connections
from psycopg import sql


class Command(BaseCommand):
    help = "Create the database named in DATABASE_URL when it is missing (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        params = connections["default"].get_connection_params()
        name = params.pop("dbname")
        # The server's maintenance database: the one named in DATABASE_URL may not exist yet.
        with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists:
                self.stdout.write(f"database {name} exists")
                return
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.stdout.write(self.style.SUCCESS(f"created database {name}"))
