-- A date range (from, to) far back in a unit's outgoing box: the rows of the range come
-- from this index and are sorted (GET /api/documents chooses it when the range is
-- narrower than its distance from today), instead of a walk of documents_docs_unit from
-- the newest entry down to the range. Covering, like the other list indexes.
CREATE INDEX documents_docs_unit_date ON documents_docs(unit_id, state, doc_date, id, doc_type, urgency, secrecy);
