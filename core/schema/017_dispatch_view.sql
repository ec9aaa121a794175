-- 017: the receipts of dispatches, read-only for plugins (filter by your own `source`):
-- a plugin asks one receipt's state with one indexed read instead of the whole board.
CREATE VIEW core_v_dispatch_receipts AS
SELECT r.id, r.dispatch_id, d.source, d.record, d.state AS dispatch_state, r.unit_id, r.user_id, r.kind,
       r.state, r.delivered_at, r.read_at, r.signed_at, r.replied_at
FROM core_dispatch_receipts r JOIN core_dispatches d ON d.id = r.dispatch_id;
