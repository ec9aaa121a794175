-- documents: attachments of a document (files attached through the core's files
-- service, with the page count and page sizes of a PDF), annotations (圈阅: strokes,
-- circles and marks per user per page, stored as data, never burned into a file), and
-- the retention period (保管期限) of an archived document.
CREATE TABLE documents_attachments (
    doc_id     INTEGER NOT NULL,
    file_id    INTEGER NOT NULL,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,               -- the sniffed type
    size       INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    pages      INTEGER NOT NULL DEFAULT 0,  -- a PDF's page count, else 0
    page_sizes TEXT NOT NULL DEFAULT '[]',  -- [[width, height], ...] in points
    added_by   INTEGER NOT NULL,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (doc_id, file_id)
);

CREATE TABLE documents_annotations (
    id         INTEGER PRIMARY KEY,         -- the order in which they were drawn
    doc_id     INTEGER NOT NULL,
    target     INTEGER NOT NULL,            -- 0: the body; else the attachment's file id
    page       INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    kind       TEXT NOT NULL,               -- stroke, circle, mark
    shape      TEXT NOT NULL,               -- JSON: points / center+radius / at+symbol, color, width
    created_at INTEGER NOT NULL
);
CREATE INDEX documents_annotations_page ON documents_annotations(doc_id, target, page, id);
CREATE INDEX documents_annotations_user ON documents_annotations(doc_id, user_id, id);

CREATE TABLE documents_retention (
    doc_id INTEGER PRIMARY KEY,
    period TEXT NOT NULL,                   -- 永久, 定期30年, 定期10年
    set_by INTEGER NOT NULL,
    set_at INTEGER NOT NULL
);
