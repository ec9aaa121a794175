/* json: JSON bodies in and out with jansson: a nesting cap before parsing, errors
 * with line and column, and the one error shape of the API. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include "http.h"
#include "json.h"

int ym_json_depth_ok(const char *s, size_t len, size_t max_depth)
{
    size_t depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return 0;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 1;
}

json_t *ym_json_parse(const char *s, size_t len, size_t max_depth, char *err, size_t errlen)
{
    if (!ym_json_depth_ok(s, len, max_depth)) {
        snprintf(err, errlen, "JSON nested deeper than %zu levels", max_depth);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
    return j;
}

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

json_t *ym_req_json(ym_request *r)
{
    if (!is_json_type(ym_req_header(r, "content-type"))) {
        ym_resp_error(r, 415, "unsupported_media_type", "request body must be application/json");
        return NULL;
    }
    char err[256];
    json_t *j = ym_json_parse(r->body ? r->body : "", r->body_len,
                              ym_server_config(ym_req_server(r))->limits.json_depth, err, sizeof err);
    if (!j)
        ym_resp_error(r, 400, "bad_json", "%s", err);
    return j;
}

void ym_resp_json(ym_request *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s) {
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"response could not be encoded\"}}";
        ym_resp_send(r, 500, "application/json", oom, sizeof oom - 1, NULL);
        return;
    }
    ym_resp_send(r, status, "application/json", s, strlen(s), NULL);
    free(s);
}

static void send_error(ym_request *r, int status, const char *code, const char *field, const char *fmt,
                       va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *e = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (field)
        json_object_set_new(e, "field", json_string(field));
    ym_resp_json(r, status, json_pack("{s:o}", "error", e));
}

void ym_resp_error(ym_request *r, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_error(r, status, code, NULL, fmt, ap);
    va_end(ap);
}

void ym_resp_invalid(ym_request *r, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_error(r, 400, "invalid", field, fmt, ap);
    va_end(ap);
}
