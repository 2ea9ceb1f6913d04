-- The reservation transaction of apps/bookings/services.py (_reserve_in_database) for one seat,
-- statement for statement as the app sends it (captured with CaptureQueriesContext), for pgbench:
-- the raw PostgreSQL ceiling of the reservation path. Not included: the reads before the
-- transaction (session row, seat check), authentication, throttles and the Redis fast path.
--
-- Every transaction holds a seat nobody held before, so the partial unique index does the same
-- work as in the service: client c takes seats seat0 + off + c + clients * (k - 1), k = 1, 2, ...
-- of consecutive 1,040-seat sessions (ids checked contiguous by bench/pgbench.py).
-- Variables (-D): k=0 off clients seat0 sess0 per_session user_id.
\set k :k + 1
\set n :off + :client_id + :clients * (:k - 1)
\set seat :seat0 + :n
\set sess :sess0 + :n / :per_session
BEGIN;
SELECT set_config('lock_timeout', '3000ms', true);
SELECT ss.id, ss.seat_id, seat.label, ss.category, s.status, s.starts_at, s.ends_at, s.price, s.movie_id, s.room_id FROM screenings_sessionseat ss JOIN rooms_seat seat ON seat.id = ss.seat_id JOIN screenings_session s ON s.id = ss.session_id WHERE ss.session_id = :sess AND ss.id = ANY(ARRAY[:seat]::bigint[]) ORDER BY ss.id FOR UPDATE OF ss;
SELECT rs.session_seat_id, r.id, r.status, r.expires_at FROM bookings_reservationseat rs JOIN bookings_reservation r ON r.id = rs.reservation_id WHERE rs.session_seat_id = ANY(ARRAY[:seat]::bigint[]) AND rs.is_active;
WITH reservation AS (INSERT INTO bookings_reservation (id, user_id, session_id, status, expires_at, total, created_at) VALUES (('00000000-0000-4000-8000-' || lpad(':n', 12, '0'))::uuid, :user_id, :sess, 'pending', now() + interval '30 seconds', 20.00, now()) RETURNING id) INSERT INTO bookings_reservationseat (reservation_id, session_seat_id, ticket_type, price, is_active) SELECT reservation.id, seat.id, seat.ticket_type, seat.price, TRUE FROM reservation, unnest(ARRAY[:seat]::bigint[], ARRAY['full']::varchar[], ARRAY[20.00]::numeric[]) AS seat(id, ticket_type, price) RETURNING id, session_seat_id;
INSERT INTO "core_outboxevent" ("event_id", "type", "data", "occurred_at", "published_at", "request_id") VALUES (('00000000-0000-4000-9000-' || lpad(':n', 12, '0'))::uuid, 'reservation.created', ('{"reservation_id": "00000000-0000-4000-8000-' || lpad(':n', 12, '0') || '", "session_id": :sess, "user_id": :user_id, "seat_ids": [:seat], "expires_at": "' || (now() + interval '30 seconds') || '", "total": "20.00"}')::jsonb, now(), NULL, 'pgbench') RETURNING "core_outboxevent"."seq";
COMMIT;
