/* calendar: one table of day kinds per year (holiday, make-up working day, or the
 * Monday-to-Friday rule), read from calendar_dir with the config's Lua sandbox. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lua.h>
#include "calendar.h"
#include "config_eval.h"
#include "log.h"

enum { DAY_RULE = 0, DAY_HOLIDAY = 1, DAY_WORK = 2 };

typedef struct year_table {
    int year;
    unsigned char kind[366]; /* by day of year, 0-based */
} year_table;

struct ym_calendar {
    year_table *years;
    size_t n;
    unsigned char warned[200]; /* years 1970..2169 without a file, warned about once */
};

/* ---- dates (civil-from-days, after Howard Hinnant's public-domain algorithms) ---- */

static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int32_t z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

int ym_date_parse(const char *s, int32_t *days)
{
    int y, m, d;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || s[4] != '-' || s[7] != '-')
        return -1;
    if (y < 1970 || y > 2169 || m < 1 || m > 12 || d < 1)
        return -1;
    int32_t v = days_from_civil(y, m, d);
    int y2, m2, d2;
    civil_from_days(v, &y2, &m2, &d2);
    if (m2 != m || d2 != d) /* 2026-02-30 */
        return -1;
    *days = v;
    return 0;
}

void ym_date_format(int32_t days, char out[11])
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

int ym_date_weekday(int32_t days) { return (int)(((days % 7) + 11) % 7); } /* 1970-01-01 was a Thursday */

int ym_date_year(int32_t days)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    return y;
}

int64_t ym_date_end_ms(int32_t days)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d + 1, .tm_isdst = -1};
    return (int64_t)mktime(&tm) * 1000 - 1; /* local midnight that ends the day, less 1 ms */
}

/* ---- loading ---- */

typedef struct load_ctx {
    ym_calendar *c;
    year_table *t;
    const char *file;
    char *err;
    size_t errlen;
} load_ctx;

static int bad(load_ctx *x, int line, const char *what, const char *msg)
{
    snprintf(x->err, x->errlen, "%s:%d: %s: %s", x->file, line, what, msg);
    return -1;
}

/* Marks one date of this file's year; the value at the top of L's stack. */
static int mark(load_ctx *x, lua_State *L, int line, const char *what, unsigned char kind, int32_t *out)
{
    int32_t days;
    if (lua_type(L, -1) != LUA_TSTRING || ym_date_parse(lua_tostring(L, -1), &days) < 0)
        return bad(x, line, what, "expected a date \"YYYY-MM-DD\"");
    if (ym_date_year(days) != x->t->year)
        return bad(x, line, what, "the date is not in this file's year");
    x->t->kind[days - days_from_civil(x->t->year, 1, 1)] = kind;
    if (out)
        *out = days;
    return 0;
}

static int load_holidays(load_ctx *x, lua_State *L, int idx, int line)
{
    if (!lua_istable(L, idx))
        return bad(x, line, "holidays", "expected a list of { from, to, name }");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        char what[32];
        snprintf(what, sizeof what, "holidays[%lld]", (long long)i);
        lua_rawgeti(L, idx, i);
        int32_t from, to;
        bool ok = lua_istable(L, -1);
        if (ok) {
            lua_rawgeti(L, -1, 1);
            ok = mark(x, L, line, what, DAY_HOLIDAY, &from) == 0;
            lua_pop(L, 1);
        }
        if (ok) {
            lua_rawgeti(L, -1, 2);
            ok = mark(x, L, line, what, DAY_HOLIDAY, &to) == 0;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (!ok)
            return x->err[0] ? -1 : bad(x, line, what, "expected { from, to, name }");
        if (to < from)
            return bad(x, line, what, "the holiday ends before it starts");
        for (int32_t d = from; d <= to; d++)
            x->t->kind[d - days_from_civil(x->t->year, 1, 1)] = DAY_HOLIDAY;
    }
    return 0;
}

static int load_workdays(load_ctx *x, lua_State *L, int idx, int line)
{
    if (!lua_istable(L, idx))
        return bad(x, line, "workdays", "expected a list of dates");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        char what[32];
        snprintf(what, sizeof what, "workdays[%lld]", (long long)i);
        lua_rawgeti(L, idx, i);
        int rc = mark(x, L, line, what, DAY_WORK, NULL);
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int apply(void *ud, lua_State *L, int values, const ym_conf_key *keys, size_t n)
{
    load_ctx *x = ud;
    for (size_t i = 0; i < n; i++) {
        lua_getfield(L, values, keys[i].name);
        int idx = lua_gettop(L), rc;
        if (strcmp(keys[i].name, "holidays") == 0)
            rc = load_holidays(x, L, idx, keys[i].line);
        else if (strcmp(keys[i].name, "workdays") == 0)
            rc = load_workdays(x, L, idx, keys[i].line);
        else
            rc = bad(x, keys[i].line, keys[i].name, "unknown key (holidays, workdays)");
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int load_file(ym_calendar *c, const char *dir, const char *name, int year, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s", path);
        return -1;
    }
    char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    year_table *ny = realloc(c->years, (c->n + 1) * sizeof *ny);
    if (!ny)
        abort();
    c->years = ny;
    year_table *t = &c->years[c->n];
    memset(t, 0, sizeof *t);
    t->year = year;
    load_ctx x = {c, t, path, err, errlen};
    err[0] = 0;
    if (ym_conf_eval(text, len, path, err, errlen, apply, &x) < 0)
        return -1;
    c->n++;
    return 0;
}

ym_calendar *ym_calendar_load(const char *dir, char *err, size_t errlen)
{
    ym_calendar *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int year;
        char tail[8];
        if (sscanf(e->d_name, "%4d.%7s", &year, tail) != 2 || strcmp(tail, "conf") != 0 || year < 1970 || year > 2169)
            continue;
        if (load_file(c, dir, e->d_name, year, err, errlen) < 0) {
            closedir(d);
            ym_calendar_free(c);
            return NULL;
        }
    }
    if (d)
        closedir(d);
    return c;
}

void ym_calendar_free(ym_calendar *c)
{
    if (c) {
        free(c->years);
        free(c);
    }
}

bool ym_calendar_has_year(const ym_calendar *c, int year)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (c->years[i].year == year)
            return true;
    return false;
}

/* ---- working days ---- */

bool ym_calendar_is_working_day(const ym_calendar *c, int32_t days)
{
    int year = ym_date_year(days);
    for (size_t i = 0; c && i < c->n; i++)
        if (c->years[i].year == year) {
            unsigned char k = c->years[i].kind[days - days_from_civil(year, 1, 1)];
            if (k != DAY_RULE)
                return k == DAY_WORK;
            int wd = ym_date_weekday(days);
            return wd != 0 && wd != 6;
        }
    if (c && year >= 1970 && year < 2170 && !c->warned[year - 1970]) {
        ((ym_calendar *)c)->warned[year - 1970] = 1;
        ym_log(YM_LOG_WARN, "no holiday calendar for this year: counting Monday to Friday", "year=%d", year);
    }
    int wd = ym_date_weekday(days);
    return wd != 0 && wd != 6;
}

int32_t ym_calendar_add_working_days(const ym_calendar *c, int32_t days, int n)
{
    int step = n < 0 ? -1 : 1, left = n < 0 ? -n : n;
    int guard = 3660 + 2 * left; /* a calendar of nothing but holidays must not hang us */
    if (n == 0) {
        while (!ym_calendar_is_working_day(c, days) && guard-- > 0)
            days++;
        return days;
    }
    while (left > 0 && guard-- > 0) {
        days += step;
        if (ym_calendar_is_working_day(c, days))
            left--;
    }
    return days;
}

/* ---- the worker's calendar, for the plugin services ---- */

static const ym_calendar *g_current;

void ym_calendar_set_current(const ym_calendar *c) { g_current = c; }
const ym_calendar *ym_calendar_current(void) { return g_current; }
