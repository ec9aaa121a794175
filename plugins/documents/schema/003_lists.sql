-- The lists (GET /api/documents?box=): one index per box, in the order of its key, so a
-- page reads O(page) rows at any number of documents. A box asked for some units reads
-- (unit, state) in key order (rowid implied); a box over many units walks (state) in key
-- order. Incoming records still to register: a recipient row says whether its unit
-- registered the document (received), kept by the registration.
-- The outgoing boxes read only these indexes (covering): the filters (type, urgency,
-- secrecy, date) are checked on the index entry, never on the row with its elements.
CREATE INDEX documents_docs_unit ON documents_docs(unit_id, state, id, doc_type, urgency, secrecy, doc_date);
CREATE INDEX documents_docs_walk ON documents_docs(state, id, unit_id, doc_type, urgency, secrecy, doc_date);

CREATE INDEX documents_countersigns_open ON documents_countersigns(unit_id, state);
CREATE INDEX documents_countersigns_state ON documents_countersigns(state);

ALTER TABLE documents_recipients ADD COLUMN received INTEGER NOT NULL DEFAULT 0;
UPDATE documents_recipients SET received = 1 WHERE EXISTS (SELECT 1 FROM documents_incoming i
    WHERE i.doc_id = documents_recipients.doc_id AND i.unit_id = documents_recipients.unit_id);
CREATE INDEX documents_recipients_open ON documents_recipients(unit_id, received);
CREATE INDEX documents_recipients_received ON documents_recipients(received);

CREATE INDEX documents_incoming_unit ON documents_incoming(unit_id, state);
CREATE INDEX documents_incoming_handler ON documents_incoming(handler_unit, state);
CREATE INDEX documents_incoming_active_unit ON documents_incoming(unit_id)
    WHERE state IN ('registered', 'proposed', 'instructed', 'completed');
CREATE INDEX documents_incoming_active ON documents_incoming(id)
    WHERE state IN ('registered', 'proposed', 'instructed', 'completed');

CREATE INDEX documents_circulation_open ON documents_circulation(user_id, state);
