/* documents (文件阅办): shared declarations of the plugin's files.
 *   doc_record.c  the record: GB/T 9704 elements, validation, helpers, settings, init
 *   doc_out.c     outgoing flow (发文): draft, versions, review, countersign, sign-off,
 *                 numbering, dispatch, archive
 *   doc_in.c      incoming flow (收文): register, propose, instruct, handle, complete,
 *                 archive, circulation
 *   doc_routes.c  reading: one document, its flow, versions, the lists
 *   doc_annot.c   attachments and annotations (圈阅) per user per page
 *   doc_render.c  PDF pages rendered to PNG (poppler + cairo, cached, on the thread pool)
 *   doc_diff.c    the difference of two saved versions, by character
 *   doc_archive.c retention periods and the yearly archive export (DA/T 22 manifest) */
#ifndef DOCUMENTS_H
#define DOCUMENTS_H
#include <stdint.h>
#include <jansson.h>
#include "yimen.h"

extern const ym_api *api;

/* settings */
extern int max_secrecy_rank;          /* 0 非密 .. 3 绝密 */
extern const char *max_secrecy_name;
extern const char *role_reviewer, *role_countersign, *role_leader, *role_clerk;

/* ---- doc_record.c ---- */
int64_t id_param(ym_request *r, const char *name);
json_t *time_json(int64_t ms);
void today(char out[11]);
int this_year(void);
/* The body as a JSON object whose keys are all in keys (NULL-terminated); answers
 * 400/415 itself and returns NULL. */
json_t *body_object(ym_request *r, const char *const *keys);
/* An optional one-line comment of at most max characters: 0 ok, else answered 400. */
int opt_text(ym_request *r, json_t *body, const char *key, size_t max_chars, int required, const char **out);
/* body_object, then opt_text of key (none when key is NULL); NULL when answered. */
json_t *body_text(ym_request *r, const char *const *keys, const char *key, size_t max_chars, int required,
                  const char **out);
/* 409 for a record (noun "document" / "incoming document") in state that a step needs wanted. */
void conflict(ym_request *r, const char *noun, const char *state, const char *wanted);
/* 1 when state is one or other (other NULL: only one); else frees body, answers 409, 0. */
int state_is(ym_request *r, json_t *body, const char *noun, const char *state, const char *one, const char *other,
             const char *wanted);
/* The end of a step's write: commits (ok) or rolls back, frees body, answers the record
 * (answer, 200) or 500 "cannot <what>". */
typedef void answer_fn(ym_request *r, ym_plugin *self, int64_t id, int status);
void step_end(ym_request *r, ym_plugin *self, int ok, json_t *body, answer_fn *answer, int64_t id, const char *fail);
void engine_error(ym_request *r, ym_plugin *self, int64_t rc);
void internal_error(ym_request *r, ym_plugin *self, const char *what);
/* Validates merged elements; 0 ok, or -1 with field and message set. */
int elements_check(json_t *el, char *field, size_t flen, char *msg, size_t mlen);
int secrecy_rank(const char *s);
/* A row of the flow log (inside the caller's write). */
int flow_add(ym_plugin *self, int64_t doc, int64_t incoming, int64_t user, int64_t unit, const char *action,
             const char *comment);
/* The next number of a gap-free counter ("out:<代字>" / "in:<unit>") for year; -1 on error. */
int64_t counter_next(ym_plugin *self, const char *key, int year);
char *user_name(ym_plugin *self, int64_t uid);          /* malloc'ed, "" when unknown */
int unit_exists(ym_plugin *self, int64_t unit);
json_t *unit_ref(ym_plugin *self, int64_t unit);        /* {"id", "name"} or null */

typedef struct doc {
    int64_t id, unit_id, version, year, serial, signer_id, dispatch_id, created_by;
    char state[24];
    char org_code[96];
    char title[640];
} doc;
/* 1 found, 0 not, -1 error */
int doc_load(ym_plugin *self, int64_t id, doc *d);
json_t *doc_json(ym_plugin *self, int64_t id, int full);
char *doc_text(ym_plugin *self, int64_t id);
/* Loads :id and checks perm on its unit: 404 (answered) when absent or out of scope. */
int doc_visible(ym_request *r, ym_plugin *self, const char *perm, doc *d);
void answer_doc(ym_request *r, ym_plugin *self, int64_t id, int status);
int search_doc(ym_plugin *self, int64_t id);
int search_draft(ym_plugin *self, int64_t id, int64_t unit, json_t *el);

/* ---- doc_out.c ---- */
int out_routes(ym_plugin *self);
/* ---- doc_in.c ---- */
int in_routes(ym_plugin *self);
typedef struct incoming {
    int64_t id, doc_id, unit_id, dispatch_id, year, serial, leader_id, item_id, handler_unit;
    char state[24];
} in_rec;
int incoming_load(ym_plugin *self, int64_t id, in_rec *in);
json_t *incoming_json(ym_plugin *self, int64_t id);
/* May the caller see this incoming record (its unit's reader, the handling department,
 * one of its readers)? */
int incoming_may_see(ym_request *r, ym_plugin *self, const in_rec *in);
/* ---- doc_routes.c ---- */
int read_routes(ym_plugin *self);
json_t *flow_json(ym_plugin *self, int64_t doc, int64_t incoming);
/* May the caller read this outgoing document (its unit's documents permissions, or
 * countersign for a unit it went to)? */
int doc_may_see(ym_request *r, ym_plugin *self, const doc *d);

/* ---- doc_annot.c: attachments and annotations (圈阅) ---- */
int annot_routes(ym_plugin *self);
/* Loads :id for a reader: doc_may_see, or a reader of one of its incoming records;
 * else 404 (answered) and 0. */
int doc_reader(ym_request *r, ym_plugin *self, doc *d);
/* The document :id into d when the caller may see it (doc_may_see), else a 404 answered: 1 or 0. */
int doc_seen(ym_request *r, ym_plugin *self, doc *d);
/* The annotations of a document in drawing order; target -1, page 0, user 0 and unit 0
 * (the annotating user's primary unit) mean any. */
json_t *annotations_json(ym_plugin *self, int64_t docid, int64_t target, int64_t page, int64_t user, int64_t unit);
/* The attachments of a document as a JSON array. */
json_t *attachments_json(ym_plugin *self, int64_t docid);
/* ---- doc_render.c: PDF pages (poppler) ---- */
/* Page count and sizes ([[w, h], ...] in points) of the PDF at path; -1 when unreadable. */
int pdf_pages(const char *path, json_t **sizes);
int render_routes(ym_plugin *self);
/* ---- doc_diff.c: the difference of two saved versions ---- */
int diff_routes(ym_plugin *self);
/* ---- doc_archive.c: retention period and the yearly archive export ---- */
int archive_routes(ym_plugin *self);

#endif
