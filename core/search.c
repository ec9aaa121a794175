/* search: the FTS5 trigram indexes (core_search_fts over title and body, core_search_title
 * over the title; rowid = core_search_docs.id) fed from C in the caller's write, the
 * directory feed, and GET /api/search. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "search.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "identity.h"
#include "files.h"
#include "clock.h"
#include "log.h"

#define OPEN_MARK "\xe3\x80\x90"   /* 【 U+3010 */
#define CLOSE_MARK "\xe3\x80\x91"  /* 】 U+3011 */
#define ELLIPSIS "\xe2\x80\xa6"    /* … */

long ym_search_utf8_len(const char *s)
{
    if (!s || !ym_files_utf8_ok(s, strlen(s)))
        return -1;
    long n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80)
            n++;
    return n;
}

/* ---------- the feed ---------- */

/* The title-only index (core_search_title, schema 016) holds every title again. */
static int title_del(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "DELETE FROM core_search_title WHERE rowid = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int ym_search_put(ym_db *db, const char *kind, const char *ref, const char *title, const char *body,
                  int64_t unit_id, const char *permission)
{
    if (!ym_db_in_write(db) || !kind || !*kind || !ref || !*ref || !permission || !*permission)
        return -1;
    if (!title)
        title = "";
    if (!body)
        body = "";
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_search_docs (kind, ref, title, body, unit_id, permission, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (kind, ref) DO UPDATE SET title = excluded.title, "
        "body = excluded.body, unit_id = excluded.unit_id, permission = excluded.permission, "
        "updated_at = excluded.updated_at RETURNING id");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, unit_id);
    sqlite3_bind_text(st, 6, permission, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, ym_now());
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || id <= 0)
        return -1;
    st = ym_db_prepare(db, "core", "DELETE FROM core_search_fts WHERE rowid = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    st = ym_db_prepare(db, "core", "INSERT INTO core_search_fts (rowid, title, body) VALUES (?1, ?2, ?3)");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, body, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || title_del(db, id) < 0)
        return -1;
    st = ym_db_prepare(db, "core", "INSERT INTO core_search_title (rowid, title) VALUES (?1, ?2)");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int ym_search_del(ym_db *db, const char *kind, const char *ref)
{
    if (!ym_db_in_write(db) || !kind || !ref)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "DELETE FROM core_search_docs WHERE kind = ?1 AND ref = ?2 RETURNING id");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (!id)
        return 0;
    st = ym_db_prepare(db, "core", "DELETE FROM core_search_fts WHERE rowid = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE && title_del(db, id) == 0 ? 1 : -1;
}

/* One unit or user as the directory has it now: indexed while active, removed
 * otherwise. Every write to core_units or core_users calls these in its transaction. */
static int sync_row(ym_db *db, const char *sql, const char *kind, const char *perm, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    char ref[40];
    snprintf(ref, sizeof ref, "%s:%lld", kind, (long long)id);
    int ret;
    if (rc == SQLITE_ROW && sqlite3_column_int(st, 3))
        ret = ym_search_put(db, kind, ref, (const char *)sqlite3_column_text(st, 0),
                            (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2), perm) < 0 ? -1 : 0;
    else
        ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? (ym_search_del(db, kind, ref) < 0 ? -1 : 0) : -1;
    sqlite3_reset(st);
    return ret;
}

int ym_search_sync_unit(ym_db *db, int64_t id)
{
    return sync_row(db, "SELECT name, coalesce(short_name, ''), id, active FROM core_units WHERE id = ?1", "unit",
                    "units.read", id);
}

int ym_search_sync_user(ym_db *db, int64_t id)
{
    return sync_row(db, "SELECT display_name, username || ' ' || title || ' ' || phone, unit_id, status = 'active' "
                        "FROM core_users WHERE id = ?1", "user", "users.read", id);
}

static int reindex_units(ym_db *db)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id, name, coalesce(short_name, '') FROM core_units WHERE active = 1 ORDER BY id");
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        char ref[40];
        snprintf(ref, sizeof ref, "unit:%lld", (long long)id);
        if (ym_search_put(db, "unit", ref, (const char *)sqlite3_column_text(st, 1),
                          (const char *)sqlite3_column_text(st, 2), id, "units.read") < 0) {
            sqlite3_reset(st);
            return -1;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int reindex_users(ym_db *db)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id, display_name, username || ' ' || title || ' ' || phone, unit_id FROM core_users "
        "WHERE status = 'active' ORDER BY id");
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char ref[40];
        snprintf(ref, sizeof ref, "user:%lld", (long long)sqlite3_column_int64(st, 0));
        if (ym_search_put(db, "user", ref, (const char *)sqlite3_column_text(st, 1),
                          (const char *)sqlite3_column_text(st, 2), sqlite3_column_int64(st, 3), "users.read") < 0) {
            sqlite3_reset(st);
            return -1;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int ym_search_reindex_directory(ym_db *db)
{
    if (ym_db_write_begin(db) < 0)
        return -1;
    /* checked inside the write: two workers starting at once index only once */
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT 1 FROM core_search_docs WHERE kind = 'unit' LIMIT 1");
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (st)
        sqlite3_reset(st);
    int out;
    if (rc == SQLITE_ROW)
        out = 0;
    else if (rc == SQLITE_DONE)
        out = reindex_units(db) == 0 && reindex_users(db) == 0 ? 1 : -1;
    else
        out = -1;
    if (ym_db_write_end(db, out >= 0) < 0)
        out = -1;
    if (ym_db_flush(db) != SQLITE_OK)
        out = -1;
    return out;
}

/* ---------- GET /api/search ---------- */

/* ym_may answers per (permission, unit), remembered for one request in a small open-
 * addressing table: a reader who may see few documents makes the scan examine up to
 * YM_SEARCH_SCAN_MAX rows over hundreds of units, and the former 128-entry list
 * (searched linearly, full after 128 units) sent most of them to ym_may again. */
#define MAY_SLOTS 2048 /* a power of two; filled at most to 3/4 */

typedef struct may_entry {
    char perm[64];
    int64_t unit;
    int ok; /* 0 empty slot, else 1 + the answer */
} may_entry;

typedef struct may_cache {
    may_entry e[MAY_SLOTS];
    size_t n;
} may_cache;

static size_t may_hash(const char *perm, int64_t unit)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)unit;
    for (const unsigned char *c = (const unsigned char *)perm; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    h ^= h >> 29;
    return (size_t)(h & (MAY_SLOTS - 1));
}

static int may_cached(ym_db *db, ym_principal *p, may_cache *c, const char *perm, int64_t unit)
{
    if (!perm)
        perm = "";
    size_t i = may_hash(perm, unit);
    bool fits = strlen(perm) < sizeof c->e[0].perm;
    while (fits && c->e[i].ok) {
        if (c->e[i].unit == unit && strcmp(c->e[i].perm, perm) == 0)
            return c->e[i].ok - 1;
        i = (i + 1) & (MAY_SLOTS - 1);
    }
    int ok = ym_may(db, p, perm, unit);
    if (ok >= 0 && fits && c->n < MAY_SLOTS / 4 * 3) {
        snprintf(c->e[i].perm, sizeof c->e[0].perm, "%s", perm);
        c->e[i].unit = unit;
        c->e[i].ok = ok + 1;
        c->n++;
    }
    return ok;
}

/* Start of the code point that is back code points before at (not before s). */
static const char *cp_back(const char *s, const char *at, int back)
{
    while (at > s && back > 0) {
        at--;
        while (at > s && ((unsigned char)*at & 0xc0) == 0x80)
            at--;
        back--;
    }
    return at;
}

static const char *cp_fwd(const char *at, int fwd)
{
    while (*at && fwd > 0) {
        at++;
        while (*at && ((unsigned char)*at & 0xc0) == 0x80)
            at++;
        fwd--;
    }
    return at;
}

/* The snippet (both paths): the first match of q in title (else body) between 【】,
 * with up to 10 code points before and 20 after. */
static json_t *like_snippet(const char *title, const char *body, const char *q)
{
    const char *text = title, *m = strcasestr(title, q);
    if (!m) {
        text = body;
        m = strcasestr(body, q);
    }
    if (!m) { /* not found byte for byte (LIKE folded the case differently): the body's start */
        const char *end = cp_fwd(body, 30);
        return json_sprintf("%.*s%s", (int)(end - body), body, *end ? ELLIPSIS : "");
    }
    size_t qlen = strlen(q);
    const char *start = cp_back(text, m, 10), *end = cp_fwd(m + qlen, 20);
    return json_sprintf("%s%.*s" OPEN_MARK "%.*s" CLOSE_MARK "%.*s%s", start > text ? ELLIPSIS : "",
                        (int)(m - start), start, (int)qlen, m, (int)(end - (m + qlen)), m + qlen,
                        *end ? ELLIPSIS : "");
}

/* FTS cursors (`after`/`next`): a document id in the title stream, TIER1 + the id in the rest. */
#define TIER1 ((int64_t)1 << 50)
#define KIND_OK(t) "(?3 IS NULL OR (SELECT kind FROM core_search_docs WHERE id = " t ".rowid) = ?3)"

/* The rows of one request in order, each with its cursor. 3+ characters: the title
 * stream (core_search_title, schema 016), then the rest (core_search_fts, which holds
 * title and body, minus the title matches: merged against a second title stream),
 * newest first in each; both are read in rowid order, so a page stops after limit + 1
 * visible rows and the rest is not opened while titles fill the page. Before, one
 * UNION ALL read the rest as '"q" NOT (title : "q")' on core_search_fts: the column
 * filter decodes every row whose body holds the trigrams (all 130,000 documents of a
 * year for 县政办发〔2026〕 at 1,000,000 documents), and the NOT walked every title
 * match of a common phrase to learn that the rest was empty (tests/bench/README.md).
 * 1-2 characters: LIKE, by id. */
typedef struct scan {
    ym_db *db;
    bool fts;
    int tier;
    sqlite3_stmt *st, *ex; /* the current stream; the title stream the rest skips */
    int64_t ex_id;         /* ex's current row; 0 when it is done */
    const char *match, *kind;
} scan;

static sqlite3_stmt *fts_stream(scan *s, const char *sql, int64_t below)
{
    sqlite3_stmt *st = ym_db_prepare(s->db, "core", sql);
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, s->match, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, below);
    if (s->kind)
        sqlite3_bind_text(st, 3, s->kind, -1, SQLITE_TRANSIENT);
    return st;
}

static int scan_open(scan *s, int tier, int64_t below)
{
    s->tier = tier;
    if (tier == 0) {
        s->st = fts_stream(s, "SELECT rowid FROM core_search_title WHERE core_search_title MATCH ?1 AND rowid < ?2 "
                              "AND " KIND_OK("core_search_title") " ORDER BY rowid DESC", below);
        return s->st ? 0 : -1;
    }
    s->st = fts_stream(s, "SELECT rowid FROM core_search_fts WHERE core_search_fts MATCH ?1 AND rowid < ?2 "
                          "AND " KIND_OK("core_search_fts") " ORDER BY rowid DESC", below);
    s->ex = s->st ? fts_stream(s, "SELECT rowid FROM core_search_title WHERE core_search_title MATCH ?1 "
                                  "AND rowid < ?2 ORDER BY rowid DESC", below) : NULL;
    s->ex_id = INT64_MAX;
    return s->ex ? 0 : -1;
}

/* 1 the next row (*id, and *pos: the cursor just past it), 2 a row of the rest whose
 * title matches (listed in the title stream already), 0 the end, -1 a database error. */
static int scan_next(scan *s, int64_t *id, int64_t *pos)
{
    for (;;) {
        int rc = sqlite3_step(s->st);
        if (rc == SQLITE_ROW) {
            *id = sqlite3_column_int64(s->st, 0);
            *pos = s->fts && s->tier == 1 ? TIER1 + *id : *id;
            if (!s->fts || s->tier == 0)
                return 1;
            while (s->ex_id > *id) {
                int erc = sqlite3_step(s->ex);
                if (erc != SQLITE_ROW && erc != SQLITE_DONE)
                    return -1;
                s->ex_id = erc == SQLITE_ROW ? sqlite3_column_int64(s->ex, 0) : 0;
            }
            return s->ex_id == *id ? 2 : 1;
        }
        if (rc != SQLITE_DONE)
            return -1;
        if (!s->fts || s->tier == 1)
            return 0;
        sqlite3_reset(s->st); /* the titles are done: the rest, from the newest */
        if (scan_open(s, 1, INT64_MAX) < 0)
            return -1;
    }
}

static void search_get(ym_request *r, void *ud)
{
    (void)ud;
    ym_db *db = ym_api_db(r);
    char *q = NULL, *kind = NULL;
    int limit;
    int64_t after;
    if (ym_api_query_str(r, "q", (size_t)YM_SEARCH_Q_MAX * 4, &q) < 0)
        return;
    long qlen = q ? ym_search_utf8_len(q) : 0;
    if (!q || qlen <= 0 || qlen > YM_SEARCH_Q_MAX) {
        if (!q)
            ym_resp_invalid(r, "q", "q is required");
        else if (qlen < 0)
            ym_resp_invalid(r, "q", "q must be UTF-8");
        else if (qlen == 0)
            ym_resp_invalid(r, "q", "q must not be empty");
        else
            ym_resp_invalid(r, "q", "q is at most %d characters", YM_SEARCH_Q_MAX);
        free(q);
        return;
    }
    if (ym_api_query_str(r, "kind", 64, &kind) < 0 || ym_api_page(r, &limit, &after) < 0) {
        free(q);
        free(kind);
        return;
    }
    if (kind && !*kind) {
        free(kind);
        kind = NULL;
    }
    scan s = {.db = db, .fts = qlen >= 3, .kind = kind};
    char *match = NULL;
    sqlite3_stmt *doc = NULL;
    int opened = -1;
    if (s.fts) {
        /* one phrase: the trigram tokenizer then finds q as a substring */
        match = malloc(2 * strlen(q) + 3);
        if (match) {
            char *o = match;
            *o++ = '"';
            for (const char *c = q; *c; c++) {
                if (*c == '"')
                    *o++ = '"';
                *o++ = *c;
            }
            *o++ = '"';
            *o = 0;
            s.match = match;
            opened = after >= TIER1 ? scan_open(&s, 1, after - TIER1) : scan_open(&s, 0, after ? after : INT64_MAX);
        }
        /* each examined row is read by its id; the snippet is cut in C (like_snippet) */
        doc = opened == 0 ? ym_db_prepare(db, "core",
            "SELECT id, kind, ref, title, NULL, unit_id, permission, body FROM core_search_docs WHERE id = ?1") : NULL;
        if (!doc)
            opened = -1;
    } else {
        s.st = ym_db_prepare(db, "core",
            "SELECT id, kind, ref, title, NULL, unit_id, permission, body FROM core_search_docs "
            "WHERE id > ?3 AND (?2 IS NULL OR kind = ?2) AND (title LIKE ?1 ESCAPE '\\' OR body LIKE ?1 ESCAPE '\\') "
            "ORDER BY id LIMIT ?4");
        if (s.st) {
            char pat[4 * YM_SEARCH_Q_MAX + 8];
            ym_api_like(q, pat, sizeof pat);
            sqlite3_bind_text(s.st, 1, pat, -1, SQLITE_TRANSIENT);
            if (kind)
                sqlite3_bind_text(s.st, 2, kind, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(s.st, 3, after);
            sqlite3_bind_int(s.st, 4, YM_SEARCH_SCAN_MAX);
            opened = 0;
        }
    }
    if (opened < 0) {
        sqlite3_reset(s.st);
        sqlite3_reset(s.ex);
        free(q);
        free(kind);
        free(match);
        ym_api_busy(r);
        return;
    }

    ym_principal *p = r->who;
    may_cache *cache = calloc(1, sizeof *cache);
    json_t *items = json_array();
    int64_t next = 0, examined = 0, last_pos = 0, seen_pos = 0;
    bool failed = !cache, more = false;
    while (!failed && examined < YM_SEARCH_SCAN_MAX) {
        int64_t id, pos;
        int got = scan_next(&s, &id, &pos);
        if (got <= 0) {
            failed = got < 0;
            break;
        }
        examined++;
        seen_pos = pos;
        if (got == 2)
            continue;
        sqlite3_stmt *row = s.st;
        if (s.fts) {
            row = doc;
            sqlite3_bind_int64(row, 1, id);
            int drc = sqlite3_step(row);
            if (drc != SQLITE_ROW) {
                sqlite3_reset(row);
                if (drc == SQLITE_DONE)
                    continue; /* deleted meanwhile */
                failed = true;
                break;
            }
        }
        int ok = may_cached(db, p, cache, (const char *)sqlite3_column_text(row, 6), sqlite3_column_int64(row, 5));
        if (ok == 1 && (int)json_array_size(items) == limit) { /* one more visible row: there is a next page */
            more = true;
            ok = 2;
        }
        if (ok == 1) {
            const char *title = (const char *)sqlite3_column_text(row, 3);
            const char *body = (const char *)sqlite3_column_text(row, 7);
            json_t *snip = like_snippet(title, body, q);
            json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:o,s:I}", "kind",
                                                   (const char *)sqlite3_column_text(row, 1), "ref",
                                                   (const char *)sqlite3_column_text(row, 2), "title", title,
                                                   "snippet", snip ? snip : json_string(""), "unit_id",
                                                   (json_int_t)sqlite3_column_int64(row, 5)));
            last_pos = pos;
        }
        if (s.fts)
            sqlite3_reset(row);
        if (ok < 0)
            failed = true;
        if (ok < 0 || ok == 2)
            break;
    }
    sqlite3_reset(s.st);
    sqlite3_reset(s.ex);
    if (!failed) {
        if (more)
            next = last_pos;
        else if (examined == YM_SEARCH_SCAN_MAX) /* the scan cap ended the page: go on after it */
            next = seen_pos;
    }
    free(cache);
    free(q);
    free(kind);
    free(match);
    if (failed) {
        json_decref(items);
        ym_api_busy(r);
        return;
    }
    ym_api_send_page(r, items, next);
}

int ym_search_routes(ym_router *rt, ym_db *db, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/search", YM_PERM_USER, search_get, NULL},
    };
    if (ym_api_routes(rt, routes, sizeof routes / sizeof routes[0], err, errlen) < 0)
        return -1;
    if (db && ym_search_reindex_directory(db) < 0)
        ym_log(YM_LOG_WARN, "search index of the directory not built", "error=%s", ym_db_errmsg(db));
    return 0;
}
