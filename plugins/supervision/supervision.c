/* supervision (督查督办): the definition, settings and registration. Cases are tracked
 * items of the core engine (source "supervision"): intake by hand and from events
 * (intake.c), decomposition and return by the lead unit (handling.c), the public board
 * and the league table (board.c), escalation of red items
 * and the periodic 通报 (notices.c). docs/api/supervision.md, docs/supervision-guide.md. */
#include <stdio.h>
#include <string.h>
#include "supervision.h"

const ym_api *api;
sv_config sv_cfg;

static bool int_setting(ym_plugin *self, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    bool is_int = api->setting_int(self, key, -1) != -1 || api->setting_int(self, key, -2) != -2;
    *out = api->setting_int(self, key, def);
    if ((api->setting_has(self, key) && !is_int) || *out < lo || *out > hi) {
        char why[128];
        snprintf(why, sizeof why, "supervision.%s: must be an integer from %lld to %lld", key, (long long)lo,
                 (long long)hi);
        api->fail(self, why);
        return false;
    }
    return true;
}

static int check_settings(ym_plugin *self)
{
    static const char *const known[] = {"office_unit", "default_workdays", "auto_assign", "notice_schedule",
                                        "return_workdays", NULL};
    for (size_t i = 0; api->setting_key(self, i); i++) {
        const char *k = api->setting_key(self, i);
        bool ok = false;
        for (size_t j = 0; known[j]; j++)
            ok = ok || strcmp(k, known[j]) == 0;
        if (!ok) {
            char why[128];
            snprintf(why, sizeof why, "supervision.%s: unknown setting", k);
            api->fail(self, why);
            return -1;
        }
    }
    int64_t v;
    if (!int_setting(self, "office_unit", 0, 0, INT64_MAX / 2, &sv_cfg.office_unit) ||
        !int_setting(self, "default_workdays", 10, 1, 1000, &v))
        return -1;
    sv_cfg.default_workdays = (int)v;
    if (!int_setting(self, "return_workdays", 3, 1, 30, &v))
        return -1;
    sv_cfg.return_workdays = (int)v;
    if (api->setting_has(self, "auto_assign") && api->setting_bool(self, "auto_assign", 0) == 0 &&
        api->setting_bool(self, "auto_assign", 1) == 1) {
        api->fail(self, "supervision.auto_assign: must be true or false");
        return -1;
    }
    sv_cfg.auto_assign = api->setting_bool(self, "auto_assign", 0) != 0;
    sv_cfg.notice_schedule = api->setting_string(self, "notice_schedule", "every 7d");
    if (api->setting_has(self, "notice_schedule") && !api->setting_string(self, "notice_schedule", NULL)) {
        api->fail(self, "supervision.notice_schedule: must be a schedule string such as \"every 7d\"");
        return -1;
    }
    return 0;
}

static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
    if (api->abi_minor < 2) {
        api->fail(self, "supervision needs the tracked-items engine (ABI 1.2 or later)");
        return -1;
    }
    if (check_settings(self) < 0)
        return -1;
    if (api->permission(self, "supervision.manage", "督查立项与督办", "take in, assign, review and close supervision cases") < 0 ||
        api->permission(self, "supervision.handle", "办理督查事项", "handle supervision cases as lead or co-unit") < 0 ||
        api->permission(self, "supervision.read", "查看限阅督查事项", "read restricted supervision cases of a unit") < 0)
        return -1;
    if (api->route(self, "POST", "/api/supervision/cases", "supervision.manage", sv_create_case, self) < 0 ||
        api->route(self, "GET", "/api/supervision/cases/:id", "user", sv_get_case, self) < 0 ||
        api->route(self, "POST", "/api/supervision/cases/:id/children", "supervision.handle", sv_decompose, self) < 0 ||
        api->route(self, "POST", "/api/supervision/cases/:id/return", "supervision.handle", sv_return_case, self) < 0 ||
        api->route(self, "GET", "/api/supervision/board", "user", sv_board, self) < 0 ||
        api->route(self, "GET", "/api/supervision/league", "user", sv_league, self) < 0 ||
        api->route(self, "POST", "/api/supervision/escalations/run", "supervision.manage", sv_run_escalation, self) < 0 ||
        api->route(self, "POST", "/api/supervision/reports", "supervision.manage", sv_make_notice, self) < 0 ||
        api->route(self, "GET", "/api/supervision/reports/latest", "user", sv_latest_notice, self) < 0 ||
        api->route(self, "GET", "/api/supervision/reports/latest.xlsx", "user", sv_latest_xlsx, self) < 0)
        return -1;
    /* the sources: when documents, meetings or tasks are not enabled these never fire */
    if (api->subscribe(self, "documents.instruction.created", sv_on_instruction, NULL) < 0 ||
        api->subscribe(self, "meetings.minutes.published", sv_on_minutes, NULL) < 0 ||
        api->subscribe(self, "tasks.lagging", sv_on_task_lagging, NULL) < 0)
        return -1;
    if (api->job(self, "supervision.escalate", "every 10m", sv_escalate_job, NULL) < 0 ||
        api->job(self, "supervision.notice", sv_cfg.notice_schedule, sv_notice_job, NULL) < 0)
        return -1;
    return 0;
}

const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "supervision", .version = "0.1.0", .core_min = "0.1", .requires = NULL,
    .init = init, .start = NULL, .stop = NULL,
};
