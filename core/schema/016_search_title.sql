-- Search: a second trigram index over the titles only (rowid = core_search_docs.id).
-- "Title matches first" reads it instead of a column filter on core_search_fts: the
-- filter decodes the position lists of every row whose body holds the phrase's
-- trigrams, which for a document number (县政办发〔2026〕, in every body) was 130,000
-- rows at 1,000,000 documents. core/search.c writes it beside core_search_fts.
CREATE VIRTUAL TABLE core_search_title USING fts5(title, tokenize='trigram');
INSERT INTO core_search_title (rowid, title) SELECT id, title FROM core_search_docs;
