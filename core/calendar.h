/* calendar: working days from data: public holidays and make-up working days (调休),
 * one file per year under calendar_dir, so "7 working days" means the same everywhere. */
#ifndef YM_CALENDAR_H
#define YM_CALENDAR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ym_calendar ym_calendar;

/* Loads every <year>.conf in dir (Lua syntax: holidays = { {from, to, name}, ... },
 * workdays = { date, ... }). A missing dir gives an empty calendar. NULL with the first
 * error ("<file>:<line>: holidays[2]: ...") on a bad file. */
ym_calendar *ym_calendar_load(const char *dir, char *err, size_t errlen);
void ym_calendar_free(ym_calendar *c);
bool ym_calendar_has_year(const ym_calendar *c, int year);

/* Dates are days since 1970-01-01 (proleptic Gregorian). */
int ym_date_parse(const char *s, int32_t *days);          /* "YYYY-MM-DD": 0, else -1 */
void ym_date_format(int32_t days, char out[11]);
int ym_date_weekday(int32_t days);                          /* 0 = Sunday */
int ym_date_year(int32_t days);

bool ym_calendar_is_working_day(const ym_calendar *c, int32_t days);
/* n > 0: the n-th working day after days; n = 0: days itself if it is a working day,
 * else the next one; n < 0: the |n|-th working day before. */
int32_t ym_calendar_add_working_days(const ym_calendar *c, int32_t days, int n);
/* The last millisecond of that date in the server's timezone: the usual deadline. */
int64_t ym_date_end_ms(int32_t days);

/* The calendar the worker loaded at start (plugins' date services use it). */
void ym_calendar_set_current(const ym_calendar *c);
const ym_calendar *ym_calendar_current(void);

#endif
