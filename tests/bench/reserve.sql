-- The reservation transaction of apps/bookings/services.py (_reserve_in_database) for one seat,
-- statement for statement as Django sends it (captured with CaptureQueriesContext), for pgbench:
-- the raw PostgreSQL ceiling of the reservation path. Not included: the reads before the
-- transaction (session row, seat check), authentication, throttles and the Redis fast path.
--
-- Every transaction holds a seat nobody held before, so the partial unique index does the same
-- work as in the service: client c takes seats seat0 + off + c + clients * (k - 1), k = 1, 2, ...
-- of consecutive 1,040-seat sessions (ids checked contiguous by tests/bench/pgbench.py).
-- Variables (-D): k=0 off clients seat0 sess0 per_session user_id.
\set k :k + 1
\set n :off + :client_id + :clients * (:k - 1)
\set seat :seat0 + :n
\set sess :sess0 + :n / :per_session
BEGIN;
SELECT set_config('lock_timeout', '3000ms', true);
SELECT "screenings_sessionseat"."id", "screenings_sessionseat"."session_id", "screenings_sessionseat"."seat_id", "rooms_seat"."id", "rooms_seat"."room_id", "rooms_seat"."row", "rooms_seat"."number", "rooms_seat"."label" FROM "screenings_sessionseat" INNER JOIN "rooms_seat" ON ("screenings_sessionseat"."seat_id" = "rooms_seat"."id") WHERE ("screenings_sessionseat"."id" IN (:seat) AND "screenings_sessionseat"."session_id" = :sess) ORDER BY "screenings_sessionseat"."id" ASC FOR UPDATE OF "screenings_sessionseat";
SELECT "bookings_reservationseat"."id", "bookings_reservationseat"."reservation_id", "bookings_reservationseat"."session_seat_id", "bookings_reservation"."id", "bookings_reservation"."status", "bookings_reservation"."expires_at" FROM "bookings_reservationseat" INNER JOIN "bookings_reservation" ON ("bookings_reservationseat"."reservation_id" = "bookings_reservation"."id") WHERE ("bookings_reservationseat"."is_active" AND "bookings_reservationseat"."session_seat_id" IN (:seat)) ORDER BY "bookings_reservationseat"."session_seat_id" ASC;
INSERT INTO "bookings_reservation" ("id", "user_id", "session_id", "status", "expires_at", "total", "created_at", "closed_at") VALUES (('00000000-0000-4000-8000-' || lpad(':n', 12, '0'))::uuid, :user_id, :sess, 'pending', now() + interval '30 seconds', 20.00, now(), NULL);
SAVEPOINT "s1_x1";
INSERT INTO "bookings_reservationseat" ("reservation_id", "session_seat_id", "price", "is_active") VALUES (('00000000-0000-4000-8000-' || lpad(':n', 12, '0'))::uuid, :seat, 20.00, true) RETURNING "bookings_reservationseat"."id";
RELEASE SAVEPOINT "s1_x1";
INSERT INTO "core_outboxevent" ("event_id", "type", "data", "occurred_at", "published_at", "request_id") VALUES (('00000000-0000-4000-9000-' || lpad(':n', 12, '0'))::uuid, 'reservation.created', ('{"reservation_id": "00000000-0000-4000-8000-' || lpad(':n', 12, '0') || '", "session_id": :sess, "user_id": :user_id, "seat_ids": [:seat], "expires_at": "' || (now() + interval '30 seconds') || '", "total": "20.00"}')::jsonb, now(), NULL, 'pgbench') RETURNING "core_outboxevent"."seq";
COMMIT;
