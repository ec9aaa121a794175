/* dispatch_spec: what a dispatch is given as JSON: the reply form and its answers
 * (checked here), and the spec, the one reader of the shape that the test route and the
 * plugin API (C and Lua) hand in:
 *   {"record", "sender_unit", "sender_user", "title", "urgency", "link",
 *    "recipients": [{"unit_id" | "user_id", "kind"}], "reply_form": {...},
 *    "deadline_at": ms | "deadline_in": seconds, "ladder": [{"offset_ms",
 *    "before_deadline", "action", "channel"}]}
 * plus "source" where the caller allows it (the test route; a plugin is its own source). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dispatch.h"
#include "clock.h"
#include "dispatch_private.h"
#include "files.h"
#include "search.h"

static int bad(ym_dispatch_err *e, const char *field, const char *msg)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    return YM_DISPATCH_INVALID;
}

static int str_member(json_t *o, const char *k, const char **out, ym_dispatch_err *e)
{
    json_t *v = json_object_get(o, k);
    if (v && !json_is_string(v) && !json_is_null(v)) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a string", k);
        return bad(e, k, msg);
    }
    *out = json_string_value(v);
    return 0;
}

static int int_member(json_t *o, const char *k, int64_t min, int64_t max, int64_t *out, ym_dispatch_err *e)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a whole number from %lld", k, (long long)min);
        return bad(e, k, msg);
    }
    *out = json_integer_value(v);
    return 0;
}

int ym_dispatch_spec_parse(json_t *body, bool with_source, ym_dispatch_spec *s, ym_dispatch_recipient **rs,
                           ym_escalation_step *steps, char **form, ym_dispatch_err *e)
{
    static const char *const allowed[] = {"record", "sender_unit", "sender_user", "title", "urgency", "link",
                                          "recipients", "reply_form", "deadline_at", "deadline_in", "ladder",
                                          "source", NULL};
    const char *k;
    json_t *v;
    *rs = NULL;
    *form = NULL;
    if (!json_is_object(body))
        return bad(e, "", "the dispatch must be a JSON object");
    json_object_foreach(body, k, v) {
        size_t i = 0;
        while (allowed[i] && (strcmp(allowed[i], k) || (!with_source && !strcmp(k, "source"))))
            i++;
        if (!allowed[i])
            return bad(e, k, "unknown field");
    }
    int64_t deadline_at = 0, deadline_in = 0;
    if ((with_source && str_member(body, "source", &s->source, e)) || str_member(body, "record", &s->record, e) ||
        str_member(body, "title", &s->title, e) || str_member(body, "urgency", &s->urgency, e) ||
        str_member(body, "link", &s->link, e) || int_member(body, "sender_unit", 1, INT64_MAX, &s->sender_unit, e) ||
        int_member(body, "sender_user", 0, INT64_MAX, &s->sender_user, e) ||
        int_member(body, "deadline_at", 0, INT64_MAX, &deadline_at, e) ||
        int_member(body, "deadline_in", 0, 366LL * 86400, &deadline_in, e))
        return YM_DISPATCH_INVALID;
    s->deadline_ms = deadline_at ? deadline_at : deadline_in ? ym_now() + deadline_in * 1000 : 0;
    json_t *rl = json_object_get(body, "recipients");
    if (!json_is_array(rl) || json_array_size(rl) > YM_DISPATCH_MAX_RECIPIENTS)
        return bad(e, "recipients", "recipients must be an array of {unit_id | user_id, kind}");
    size_t i, n = json_array_size(rl);
    *rs = calloc(n ? n : 1, sizeof **rs);
    if (!*rs)
        abort();
    json_array_foreach(rl, i, v) {
        json_t *u = json_object_get(v, "unit_id"), *p = json_object_get(v, "user_id"), *kd = json_object_get(v, "kind");
        if (!json_is_object(v) || (u && !json_is_integer(u)) || (p && !json_is_integer(p)) || (kd && !json_is_string(kd))) {
            char msg[96];
            snprintf(msg, sizeof msg, "recipient %zu must be {unit_id | user_id, kind}", i);
            return bad(e, "recipients", msg);
        }
        (*rs)[i] = (ym_dispatch_recipient){.unit_id = u ? json_integer_value(u) : 0,
                                           .user_id = p ? json_integer_value(p) : 0,
                                           .kind = kd ? json_string_value(kd) : NULL};
    }
    s->recipients = *rs;
    s->nrecipients = n;
    json_t *f = json_object_get(body, "reply_form");
    if (f && !json_is_null(f))
        *form = json_dumps(f, JSON_COMPACT);
    s->reply_form_json = *form;
    json_t *lad = json_object_get(body, "ladder");
    if (lad && (!json_is_array(lad) || json_array_size(lad) > YM_DISPATCH_MAX_STEPS)) {
        char msg[96];
        snprintf(msg, sizeof msg, "ladder must be an array of at most %d steps", YM_DISPATCH_MAX_STEPS);
        return bad(e, "ladder", msg);
    }
    json_array_foreach(lad, i, v) {
        json_t *o = json_object_get(v, "offset_ms"), *b = json_object_get(v, "before_deadline");
        json_t *a = json_object_get(v, "action"), *c = json_object_get(v, "channel");
        if (!json_is_object(v) || !json_is_integer(o) || (b && !json_is_boolean(b)) || !json_is_string(a) ||
            (c && !json_is_null(c) && !json_is_string(c))) {
            char msg[96];
            snprintf(msg, sizeof msg, "step %zu must be {offset_ms, before_deadline, action, channel}", i);
            return bad(e, "ladder", msg);
        }
        steps[i] = (ym_escalation_step){.offset_ms = json_integer_value(o), .before_deadline = json_is_true(b),
                                        .action = json_string_value(a), .channel = json_string_value(c)};
    }
    s->ladder = steps;
    s->nladder = lad ? json_array_size(lad) : 0;
    return 0;
}

/* UTF-8 of 1..max characters without control characters. */
bool ym_dsp_text_ok(const char *s, long max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || !ym_files_utf8_ok(s, n))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return ym_search_utf8_len(s) <= max;
}

bool ym_dsp_name_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || s[0] < 'a' || s[0] > 'z')
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* ---------- the reply form ---------- */

static const char *const field_types[] = {"boolean", "string", "integer", "choice", "list", NULL};

static bool in_list(const char *s, const char *const *l)
{
    for (; *l; l++)
        if (strcmp(s, *l) == 0)
            return true;
    return false;
}

/* {"fields": [{"name", "label"?, "type", "required"?, "options"? (choice), "max"?,
 * "columns"? (list: each item an object of these string members)}]}: NULL ok, else why. */
const char *ym_dsp_form_check(json_t *form, char *why, size_t len)
{
    json_t *fields = json_object_get(form, "fields");
    if (!json_is_object(form) || json_object_size(form) != 1 || !json_is_array(fields) ||
        json_array_size(fields) < 1 || json_array_size(fields) > 50)
        return snprintf(why, len, "reply_form must be {\"fields\": [...]} with 1 to 50 fields"), why;
    size_t i, j;
    json_t *f;
    json_array_foreach(fields, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *type = json_string_value(json_object_get(f, "type"));
        json_t *req = json_object_get(f, "required"), *label = json_object_get(f, "label");
        json_t *opts = json_object_get(f, "options"), *cols = json_object_get(f, "columns");
        json_t *max = json_object_get(f, "max");
        if (!json_is_object(f) || !ym_dsp_name_ok(name, 32) || !type || !in_list(type, field_types))
            return snprintf(why, len, "field %zu needs a name ([a-z][a-z0-9_]*) and a type (boolean, string, "
                            "integer, choice, list)", i), why;
        const char *k;
        json_t *v;
        json_object_foreach(f, k, v)
            if (!in_list(k, (const char *const[]){"name", "label", "type", "required", "options", "max", "columns",
                                                   NULL}))
                return snprintf(why, len, "field %s: unknown member %s", name, k), why;
        for (j = 0; j < i; j++)
            if (strcmp(name, json_string_value(json_object_get(json_array_get(fields, j), "name"))) == 0)
                return snprintf(why, len, "field %s appears twice", name), why;
        if ((req && !json_is_boolean(req)) || (label && !(json_is_string(label) && ym_dsp_text_ok(json_string_value(label), 100))) ||
            (max && (!json_is_integer(max) || json_integer_value(max) < 1 || json_integer_value(max) > 100000)))
            return snprintf(why, len, "field %s: required is a boolean, label 1-100 characters, max 1-100000",
                            name), why;
        bool choice = strcmp(type, "choice") == 0, list = strcmp(type, "list") == 0;
        if (choice != (opts != NULL) || (choice && (!json_is_array(opts) || json_array_size(opts) < 1)))
            return snprintf(why, len, "field %s: a choice (and only a choice) has options", name), why;
        json_array_foreach(opts, j, v)
            if (!json_is_string(v) || !ym_dsp_text_ok(json_string_value(v), 100))
                return snprintf(why, len, "field %s: options are strings", name), why;
        if (list != (cols != NULL) || (list && (!json_is_array(cols) || json_array_size(cols) < 1)))
            return snprintf(why, len, "field %s: a list (and only a list) has columns", name), why;
        json_array_foreach(cols, j, v)
            if (!json_is_string(v) || !ym_dsp_name_ok(json_string_value(v), 32))
                return snprintf(why, len, "field %s: columns are names ([a-z][a-z0-9_]*)", name), why;
    }
    return NULL;
}

static bool string_fits(json_t *v, json_int_t max)
{
    return json_is_string(v) && ym_files_utf8_ok(json_string_value(v), json_string_length(v)) &&
           ym_search_utf8_len(json_string_value(v)) <= max;
}

/* answers against the form: NULL ok, else why (naming the member). */
const char *ym_dsp_answers_check(json_t *form, json_t *answers, char *why, size_t len)
{
    if (!json_is_object(answers))
        return snprintf(why, len, "answers must be an object"), why;
    json_t *fields = json_object_get(form, "fields"), *f, *v;
    const char *k;
    json_object_foreach(answers, k, v) {
        bool known = false;
        size_t i;
        json_array_foreach(fields, i, f)
            known = known || strcmp(k, json_string_value(json_object_get(f, "name"))) == 0;
        if (!known)
            return snprintf(why, len, "answers.%.40s is not in the reply form", k), why;
    }
    size_t i;
    json_array_foreach(fields, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *type = json_string_value(json_object_get(f, "type"));
        json_t *maxv = json_object_get(f, "max");
        json_int_t max = maxv ? json_integer_value(maxv) : -1;
        v = json_object_get(answers, name);
        if (!v || json_is_null(v)) {
            if (json_is_true(json_object_get(f, "required")))
                return snprintf(why, len, "answers.%s is required", name), why;
            continue;
        }
        bool ok = true;
        if (strcmp(type, "boolean") == 0)
            ok = json_is_boolean(v);
        else if (strcmp(type, "string") == 0)
            ok = string_fits(v, max > 0 ? max : 2000);
        else if (strcmp(type, "integer") == 0)
            ok = json_is_integer(v) && (max < 0 || (json_integer_value(v) >= 0 && json_integer_value(v) <= max));
        else if (strcmp(type, "choice") == 0) {
            ok = false;
            size_t j;
            json_t *o;
            json_array_foreach(json_object_get(f, "options"), j, o)
                ok = ok || (json_is_string(v) && strcmp(json_string_value(v), json_string_value(o)) == 0);
        } else { /* list of objects of string columns */
            json_t *cols = json_object_get(f, "columns"), *item;
            size_t j;
            ok = json_is_array(v) && (max < 0 || (json_int_t)json_array_size(v) <= max) && json_array_size(v) <= 1000;
            json_array_foreach(v, j, item) {
                if (!ok)
                    break;
                ok = json_is_object(item);
                const char *ck;
                json_t *cv;
                json_object_foreach(item, ck, cv) {
                    bool col = false;
                    size_t c;
                    json_t *cn;
                    json_array_foreach(cols, c, cn)
                        col = col || strcmp(ck, json_string_value(cn)) == 0;
                    ok = ok && col && string_fits(cv, 200);
                }
            }
        }
        if (!ok)
            return snprintf(why, len, "answers.%s does not match its type %s%s", name, type,
                            strcmp(type, "choice") == 0 ? " (one of the options)" : ""), why;
    }
    return NULL;
}
