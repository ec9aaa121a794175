/* dispatch_spec: a dispatch spec from JSON, the one reader of the shape that the test
 * route and the plugin API (C and Lua) hand in:
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
