/* Escalation of red cases to their leader (a job every 10 minutes) and the periodic
 * 通报: a summary text and league rows stored, sent to the leaders' inboxes, and served
 * as JSON and as an .xlsx. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "supervision.h"

/* ---------------------------------------------------------------- escalation */

/* Open cases whose item is red and not yet escalated: escalate the item (timeline row
 * "escalated"), notify the leader user when known, mark the case. Idempotent. */
static int escalate_red(ym_plugin *self, int64_t *count)
{
    *count = 0;
    int64_t after = 0;
    for (;;) {
        /* open red items of this plugin's cases, read through the core's view core_v_items */
        ym_stmt *st = api->db_prepare(self,
            "SELECT c.id, i.escalated, coalesce(i.deadline, ''), coalesce(u.name, '') FROM supervision_cases c "
            "JOIN core_v_items i ON i.id = c.item_id AND i.source = 'supervision' "
            "LEFT JOIN core_v_units u ON u.id = i.lead_unit WHERE c.escalated_at IS NULL AND c.id > ?1 "
            "AND i.state IN ('assigned', 'accepted', 'in_progress') AND i.colour = 'red' ORDER BY c.id LIMIT 200");
        if (!st)
            return -1;
        api->db_bind_int(st, 1, after);
        struct { int64_t id; bool escalated; char deadline[16], lead[200]; } *rows = calloc(200, sizeof *rows);
        if (!rows) {
            api->db_reset(st);
            return -1;
        }
        size_t n = 0;
        while (n < 200 && api->db_step(st) == YM_ROW) {
            rows[n].id = api->db_column_int(st, 0);
            rows[n].escalated = api->db_column_int(st, 1) != 0;
            snprintf(rows[n].deadline, sizeof rows[n].deadline, "%s", api->db_column_text(st, 2));
            snprintf(rows[n].lead, sizeof rows[n].lead, "%s", api->db_column_text(st, 3));
            n++;
        }
        api->db_reset(st);
        for (size_t i = 0; i < n; i++) {
            after = rows[i].id;
            sv_case c;
            if (sv_case_load(self, rows[i].id, &c) != 1)
                continue;
            {
                char link[64], body[900];
                snprintf(link, sizeof link, "#/supervision/cases/%lld", (long long)c.id);
                snprintf(body, sizeof body, "%s（牵头单位：%s，期限：%s）已亮红灯，请领导督办。", c.title,
                         rows[i].lead, rows[i].deadline);
                api->db_write_begin(self);
                int ok = 1;
                if (!rows[i].escalated)
                    ok = api->item_act(self, c.item_id, "escalate", c.created_by,
                                       "{\"on\":true,\"reason\":\"红灯事项自动提交责任领导\"}") >= 0;
                if (ok && c.leader_user)
                    ok = api->notify(self, c.leader_user, "urgent", "督查事项亮红灯", body, link) > 0;
                ym_stmt *up = ok ? api->db_prepare(self, "UPDATE supervision_cases SET escalated_at = ?2 WHERE id = ?1") : NULL;
                ok = up && api->db_bind_int(up, 1, c.id) == 0 && api->db_bind_int(up, 2, api->now()) == 0 &&
                     api->db_step(up) == YM_DONE;
                if (up)
                    api->db_reset(up);
                api->db_write_end(self, ok);
                if (ok)
                    (*count)++;
                else
                    api->log(self, YM_WARN, api->error(self) ? api->error(self) : "cannot escalate a case");
            }
            sv_case_free(&c);
        }
        free(rows);
        if (n < 200)
            return 0;
    }
}

int sv_escalate_job(ym_plugin *self, const char *name, void *ud)
{
    int64_t n;
    return escalate_red(self, &n);
}

/* POST /api/supervision/escalations/run: the job, now */
void sv_run_escalation(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t n;
    if (escalate_red(self, &n) < 0) {
        api->resp_error(r, 503, "storage_busy", "cannot read the cases");
        return;
    }
    char out[48];
    snprintf(out, sizeof out, "{\"escalated\":%lld}", (long long)n);
    api->resp_json(r, 200, out);
}

/* ---------------------------------------------------------------- 通报 */

static void append(char **buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char **buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *more = realloc(*buf, *len + (size_t)n + 1);
    if (more) {
        memcpy(more + *len, s, (size_t)n + 1);
        *buf = more;
        *len += (size_t)n;
    }
    free(s);
}

static void pct(json_t *v, char *out, size_t len)
{
    if (json_is_number(v))
        snprintf(out, len, "%.1f%%", json_number_value(v) * 100.0);
    else
        snprintf(out, len, "—");
}

/* Generates a notice over January 1st .. today: stores it with its rows and notifies
 * every leader user of a case. Returns the notice id, or -1. */
static int64_t make_notice(ym_plugin *self, int64_t by_user)
{
    char today[11], jan1[11];
    sv_today(today);
    snprintf(jan1, sizeof jan1, "%.4s-01-01", today);
    json_t *league = sv_league_json(self, jan1, today);
    if (!league)
        return -1;
    json_t *t = json_object_get(league, "totals"), *units = json_object_get(league, "units"), *u;
    char *text = NULL, rate[16];
    size_t len = 0, i;
    pct(json_object_get(t, "on_time_rate"), rate, sizeof rate);
    append(&text, &len, "督查督办工作通报（%s 至 %s）\n", jan1, today);
    append(&text, &len, "期限在本期内的督办事项共%lld件，按时办结%lld件，超期%lld件，亮过红灯%lld件，已销号%lld件，按时办结率%s。\n",
           (long long)json_integer_value(json_object_get(t, "items")),
           (long long)json_integer_value(json_object_get(t, "completed_on_time")),
           (long long)json_integer_value(json_object_get(t, "overdue")),
           (long long)json_integer_value(json_object_get(t, "red")),
           (long long)json_integer_value(json_object_get(t, "closed")), rate);
    if (json_array_size(units))
        append(&text, &len, "各单位情况（按按时办结率排序）：\n");
    json_array_foreach(units, i, u) {
        json_t *unit = json_object_get(u, "unit"), *md = json_object_get(u, "mean_days_to_close");
        pct(json_object_get(u, "on_time_rate"), rate, sizeof rate);
        char days[32];
        if (json_is_number(md))
            snprintf(days, sizeof days, "%.2f天", json_number_value(md));
        else
            snprintf(days, sizeof days, "—");
        append(&text, &len, "%zu. %s：事项%lld件，按时办结%lld件，超期%lld件，红灯%lld件，已销号%lld件，按时办结率%s，平均办结%s。\n",
               i + 1, json_string_value(json_object_get(unit, "name")),
               (long long)json_integer_value(json_object_get(u, "items")),
               (long long)json_integer_value(json_object_get(u, "completed_on_time")),
               (long long)json_integer_value(json_object_get(u, "overdue")),
               (long long)json_integer_value(json_object_get(u, "red")),
               (long long)json_integer_value(json_object_get(u, "closed")), rate, days);
    }
    char *totals = json_dumps(t, JSON_COMPACT);
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "INSERT INTO supervision_notices (period_from, period_to, summary, totals, "
                                        "created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    int ok = st && text && totals && api->db_bind_text(st, 1, jan1) == 0 && api->db_bind_text(st, 2, today) == 0 &&
             api->db_bind_text(st, 3, text) == 0 && api->db_bind_text(st, 4, totals) == 0 &&
             api->db_bind_int(st, 5, by_user) == 0 && api->db_bind_int(st, 6, api->now()) == 0 &&
             api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    int64_t id = ok ? api->db_last_insert_id(self) : -1;
    json_array_foreach(units, i, u) {
        if (!ok)
            break;
        json_t *unit = json_object_get(u, "unit");
        st = api->db_prepare(self, "INSERT INTO supervision_notice_rows (notice_id, seq, unit_id, unit_name, items, "
            "completed_on_time, overdue, red, closed, on_time_rate, mean_days_to_close) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
        ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_bind_int(st, 2, (int64_t)i + 1) == 0 &&
             api->db_bind_int(st, 3, json_integer_value(json_object_get(unit, "id"))) == 0 &&
             api->db_bind_text(st, 4, json_string_value(json_object_get(unit, "name"))) == 0;
        const char *keys[] = {"items", "completed_on_time", "overdue", "red", "closed"};
        for (int k = 0; ok && k < 5; k++)
            ok = api->db_bind_int(st, 5 + k, json_integer_value(json_object_get(u, keys[k]))) == 0;
        json_t *rt = json_object_get(u, "on_time_rate"), *md = json_object_get(u, "mean_days_to_close");
        ok = ok && (json_is_number(rt) ? api->db_bind_double(st, 10, json_number_value(rt)) : api->db_bind_null(st, 10)) == 0 &&
             (json_is_number(md) ? api->db_bind_double(st, 11, json_number_value(md)) : api->db_bind_null(st, 11)) == 0 &&
             api->db_step(st) == YM_DONE;
        if (st)
            api->db_reset(st);
    }
    /* the leaders' inboxes */
    int64_t notified = 0;
    if (ok) {
        st = api->db_prepare(self, "SELECT DISTINCT leader_user FROM supervision_cases WHERE leader_user IS NOT NULL "
                                   "ORDER BY leader_user LIMIT 1000");
        int64_t leaders[1000];
        size_t nl = 0;
        while (st && nl < 1000 && api->db_step(st) == YM_ROW)
            leaders[nl++] = api->db_column_int(st, 0);
        if (st)
            api->db_reset(st);
        char title[80];
        snprintf(title, sizeof title, "督查督办工作通报（截至%s）", today);
        /* an inbox body holds at most 4000 characters: the head of a long notice */
        char *brief = strdup(text);
        size_t chars = 0, b = 0;
        for (; brief && brief[b]; b++)
            if (((unsigned char)brief[b] & 0xC0) != 0x80 && ++chars > 3000)
                break;
        if (brief && brief[b] && strlen(brief + b) >= 3)
            memcpy(brief + b, "…", 4);
        for (size_t k = 0; brief && k < nl; k++)
            if (api->notify(self, leaders[k], "info", title, brief, "#/supervision/reports/latest") > 0)
                notified++;
        free(brief);
        ym_stmt *up = api->db_prepare(self, "UPDATE supervision_notices SET notified = ?2 WHERE id = ?1");
        ok = up && api->db_bind_int(up, 1, id) == 0 && api->db_bind_int(up, 2, notified) == 0 && api->db_step(up) == YM_DONE;
        if (up)
            api->db_reset(up);
    }
    api->db_write_end(self, ok);
    free(text);
    free(totals);
    json_decref(league);
    return ok ? id : -1;
}

int sv_notice_job(ym_plugin *self, const char *name, void *ud)
{
    return make_notice(self, 0) > 0 ? 0 : -1;
}

/* the latest notice (or notice id) as JSON, NULL when none */
static json_t *notice_json(ym_plugin *self, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, "SELECT id, period_from, period_to, summary, totals, notified, created_at "
                                        "FROM supervision_notices WHERE (?1 = 0 OR id = ?1) ORDER BY id DESC LIMIT 1");
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, id);
    json_t *o = NULL;
    if (api->db_step(st) == YM_ROW) {
        char at[40];
        api->time_format(api->db_column_int(st, 6), at, sizeof at);
        o = json_pack("{s:I,s:s,s:s,s:s,s:o,s:I,s:s}", "id", (json_int_t)api->db_column_int(st, 0), "from",
                      api->db_column_text(st, 1), "to", api->db_column_text(st, 2), "summary", api->db_column_text(st, 3),
                      "totals", json_loads(api->db_column_text(st, 4), 0, NULL), "notified",
                      (json_int_t)api->db_column_int(st, 5), "created_at", at);
    }
    api->db_reset(st);
    if (!o)
        return NULL;
    st = api->db_prepare(self, "SELECT seq AS rank, unit_id, unit_name, items, completed_on_time, overdue, red, closed, "
                               "on_time_rate, mean_days_to_close FROM supervision_notice_rows WHERE notice_id = ?1 ORDER BY seq");
    char *rows = NULL;
    if (st) {
        api->db_bind_int(st, 1, json_integer_value(json_object_get(o, "id")));
        rows = api->db_rows_json(st);
    }
    json_object_set_new(o, "rows", rows ? json_loads(rows, 0, NULL) : json_array());
    api->free(rows);
    return o;
}

static void answer_notice(ym_request *r, ym_plugin *self, int status, int64_t id)
{
    json_t *o = notice_json(self, id);
    if (!o) {
        api->resp_error(r, 404, "not_found", "no notice has been generated yet");
        return;
    }
    char *s = json_dumps(o, JSON_COMPACT);
    api->resp_json(r, status, s);
    free(s);
    json_decref(o);
}

/* POST /api/supervision/reports: generate a notice now */
void sv_make_notice(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = make_notice(self, api->req_user_id(r));
    if (id <= 0) {
        api->resp_error(r, 503, "storage_busy", "cannot generate the notice");
        return;
    }
    answer_notice(r, self, 201, id);
}

/* GET /api/supervision/reports/latest */
void sv_latest_notice(ym_request *r, void *ud) { answer_notice(r, ud, 200, 0); }

/* GET /api/supervision/reports/latest.xlsx */
void sv_latest_xlsx(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    json_t *o = notice_json(self, 0);
    if (!o) {
        api->resp_error(r, 404, "not_found", "no notice has been generated yet");
        return;
    }
    json_t *rows = json_array(), *row;
    size_t i;
    json_array_foreach(json_object_get(o, "rows"), i, row) {
        json_t *rt = json_object_get(row, "on_time_rate");
        json_array_append_new(rows, json_pack("[O,O,O,O,O,O,O,O,O]", json_object_get(row, "rank"),
            json_object_get(row, "unit_name"), json_object_get(row, "items"), json_object_get(row, "completed_on_time"),
            json_object_get(row, "overdue"), json_object_get(row, "red"), json_object_get(row, "closed"),
            json_is_number(rt) ? rt : json_null(), json_object_get(row, "mean_days_to_close")));
    }
    json_t *sheet = json_pack("{s:s,s:[s,s,s,s,s,s,s,s,s],s:o}", "name", "督查通报", "header", "排名", "单位", "事项数",
                              "按时办结", "超期", "红灯", "已销号", "按时办结率", "平均办结天数", "rows", rows);
    char *s = json_dumps(sheet, JSON_COMPACT);
    char fname[64];
    snprintf(fname, sizeof fname, "督查通报-%s.xlsx", json_string_value(json_object_get(o, "to")));
    api->resp_xlsx(self, r, fname, s);
    free(s);
    json_decref(sheet);
    json_decref(o);
}
