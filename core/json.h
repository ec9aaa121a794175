/* json: JSON parsing with a nesting cap and line/column errors; the response
 * helpers (ym_resp_json, ym_resp_error, ym_req_json) are declared in http.h. */
#ifndef YM_JSON_H
#define YM_JSON_H
#include <stddef.h>
#include <jansson.h>

/* 1 when no object/array nests deeper than max_depth (strings are skipped). */
int ym_json_depth_ok(const char *s, size_t len, size_t max_depth);
/* Parse strictly (duplicate keys refused); NULL with "invalid JSON at line L, column C: ..." */
json_t *ym_json_parse(const char *s, size_t len, size_t max_depth, char *err, size_t errlen);

#endif
