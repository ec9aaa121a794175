-- hello: events of other plugins it has handled. A subscriber's writes commit together
-- with the core's "delivered" mark, so a redelivery after a crash cannot add a second row.
CREATE TABLE hello_seen (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    seen_at    INTEGER NOT NULL
);
