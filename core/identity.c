/* identity: the directory model: units as a tree with materialised paths, users,
 * roles, grants with unit scope, delegations, and the permission check ym_may. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "identity.h"
#include "clock.h"
#include "log.h"
#include "search.h"

/* ---------- permission registry ---------- */

typedef struct perm_entry {
    char *name, *owner, *zh, *en;
} perm_entry;

static perm_entry *g_perms;
static size_t g_nperms, g_capperms;

static char *xdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

static bool perm_name_ok(const char *s)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || !dot[1] || strlen(s) > 64)
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.'))
            return false;
    return true;
}

int ym_perm_register(const char *name, const char *owner, const char *label_zh, const char *label_en)
{
    if (!perm_name_ok(name))
        return -1;
    if (ym_perm_known(name))
        return 0;
    if (g_nperms == g_capperms) {
        g_capperms = g_capperms ? g_capperms * 2 : 64;
        perm_entry *np = realloc(g_perms, g_capperms * sizeof *np);
        if (!np)
            abort();
        g_perms = np;
    }
    g_perms[g_nperms++] = (perm_entry){xdup(name), xdup(owner), xdup(label_zh), xdup(label_en)};
    return 0;
}

bool ym_perm_known(const char *name)
{
    for (size_t i = 0; i < g_nperms; i++)
        if (strcmp(g_perms[i].name, name) == 0)
            return true;
    return false;
}

json_t *ym_perm_list(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < g_nperms; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "name", g_perms[i].name, "owner", g_perms[i].owner,
                                           "label_zh", g_perms[i].zh, "label_en", g_perms[i].en));
    return a;
}

void ym_perm_clear(void)
{
    for (size_t i = 0; i < g_nperms; i++) {
        free(g_perms[i].name);
        free(g_perms[i].owner);
        free(g_perms[i].zh);
        free(g_perms[i].en);
    }
    free(g_perms);
    g_perms = NULL;
    g_nperms = g_capperms = 0;
}

bool ym_perm_covers(const char *pattern, const char *wanted)
{
    if (strcmp(pattern, wanted) == 0)
        return true;
    if (strcmp(pattern, "*") == 0)
        return strncmp(wanted, "audit.", 6) != 0;
    size_t n = strlen(pattern);
    return n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.' && strncmp(pattern, wanted, n - 1) == 0;
}

static const char *const core_perms[][3] = {
    {"units.read", "查看单位", "read units"}, {"units.manage", "管理单位", "manage units"},
    {"users.read", "查看用户", "read users"}, {"users.manage", "管理用户", "manage users"},
    {"users.password", "重置密码", "reset passwords"}, {"users.unlock", "解锁账号", "unlock accounts"},
    {"users.disable", "停用账号", "disable accounts"}, {"roles.read", "查看角色", "read roles"},
    {"roles.manage", "管理角色", "manage roles"}, {"grants.read", "查看授权", "read grants"},
    {"grants.manage", "管理授权", "manage grants"}, {"contacts.read", "查看通讯录", "read the contact directory"},
    {"audit.read", "查看审计日志", "read the audit log"}, {"test.clock", "测试时钟", "move the test clock"},
    {"admin.reload", "重新加载配置", "reload the configuration"},
    {"admin.plugins", "查看插件", "see the plugins and their state"},
};

void ym_identity_register_permissions(void)
{
    for (size_t i = 0; i < sizeof core_perms / sizeof *core_perms; i++)
        ym_perm_register(core_perms[i][0], "core", core_perms[i][1], core_perms[i][2]);
}

/* ---------- units ---------- */

static int unit_path(ym_db *db, int64_t id, char *out, size_t len)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT path FROM core_units WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return 1;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static bool path_within(const char *path, const char *root_path)
{
    return strncmp(path, root_path, strlen(root_path)) == 0;
}

int ym_unit_within(ym_db *db, int64_t unit_id, int64_t root_id)
{
    char a[512], b[512];
    if (unit_path(db, unit_id, a, sizeof a) != 1 || unit_path(db, root_id, b, sizeof b) != 1)
        return -1;
    return path_within(a, b) ? 1 : 0;
}

int64_t ym_root_unit(ym_db *db)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT id FROM core_units WHERE parent_id IS NULL ORDER BY id LIMIT 1");
    if (!st)
        return -1;
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

static const char *const unit_kinds[] = {"county", "township", "village", "department", "other"};

bool ym_unit_kind_ok(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof unit_kinds / sizeof *unit_kinds; i++)
        if (strcmp(kind, unit_kinds[i]) == 0)
            return true;
    return false;
}

static int bad(char *field, size_t flen, char *err, size_t errlen, const char *f, const char *msg)
{
    snprintf(field, flen, "%s", f);
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int64_t ym_unit_create(ym_db *db, int64_t parent_id, const char *kind, const char *name, const char *short_name,
                       const char *credit_code, int sort, char *field, size_t flen, char *err, size_t errlen)
{
    char ppath[512] = "/";
    if (!ym_unit_kind_ok(kind))
        return bad(field, flen, err, errlen, "kind", "kind must be county, township, village, department or other");
    if (!name || !*name || strlen(name) > 200)
        return bad(field, flen, err, errlen, "name", "name is required (at most 200 bytes)");
    if (short_name && strlen(short_name) > 64)
        return bad(field, flen, err, errlen, "short_name", "short_name is at most 64 bytes");
    if (credit_code && *credit_code && strlen(credit_code) != 18)
        return bad(field, flen, err, errlen, "credit_code", "credit_code must be 18 characters (统一社会信用代码)");
    if (parent_id) {
        int rc = unit_path(db, parent_id, ppath, sizeof ppath);
        if (rc < 0)
            return -2;
        if (rc == 0)
            return bad(field, flen, err, errlen, "parent_id", "no such parent unit");
    }
    int64_t now = ym_now();
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_units (parent_id, kind, name, short_name, credit_code, sort, active, path, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, '', ?7, ?7)");
    if (!st)
        return -2;
    if (parent_id)
        sqlite3_bind_int64(st, 1, parent_id);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, short_name && *short_name ? short_name : NULL, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, credit_code && *credit_code ? credit_code : NULL, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 6, sort);
    sqlite3_bind_int64(st, 7, now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return bad(field, flen, err, errlen, "credit_code", "credit_code is already used by another unit");
    if (rc != SQLITE_DONE)
        return -2;
    int64_t id = sqlite3_last_insert_rowid(ym_db_handle(db));
    char path[600];
    snprintf(path, sizeof path, "%s%lld/", ppath, (long long)id);
    st = ym_db_prepare(db, "core", "UPDATE core_units SET path = ?1 WHERE id = ?2");
    if (!st)
        return -2;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE && ym_search_sync_unit(db, id) == 0 ? id : -2;
}

/* ---------- users ---------- */

bool ym_username_ok(const char *u)
{
    size_t n = u ? strlen(u) : 0;
    if (n < 2 || n > 64)
        return false;
    for (const char *c = u; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
            return false;
    return true;
}

int ym_username_taken(ym_db *db, const char *username)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT 1 FROM core_users WHERE username = ?1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int64_t ym_user_create(ym_db *db, const char *username, const char *display_name, int64_t unit_id,
                       const char *title, const char *phone, const char *password_hash, bool must_change,
                       char *field, size_t flen, char *err, size_t errlen)
{
    char path[512];
    if (!ym_username_ok(username))
        return bad(field, flen, err, errlen, "username",
                   "username must be 2-64 characters of a-z, 0-9, '_', '.', '-'");
    if (!display_name || !*display_name || strlen(display_name) > 128)
        return bad(field, flen, err, errlen, "display_name", "display_name is required (at most 128 bytes)");
    if ((title && strlen(title) > 128) || (phone && strlen(phone) > 32))
        return bad(field, flen, err, errlen, title && strlen(title) > 128 ? "title" : "phone", "too long");
    int rc = unit_path(db, unit_id, path, sizeof path);
    if (rc < 0)
        return -2;
    if (rc == 0)
        return bad(field, flen, err, errlen, "unit_id", "no such unit");
    int64_t now = ym_now();
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_users (username, display_name, unit_id, title, phone, status, password_hash, must_change, "
        "password_set_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7, ?8, ?8, ?8)");
    if (!st)
        return -2;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, display_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, unit_id);
    sqlite3_bind_text(st, 4, title ? title : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, phone ? phone : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, password_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 7, must_change ? 1 : 0);
    sqlite3_bind_int64(st, 8, now);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return bad(field, flen, err, errlen, "username", "username is already taken");
    if (rc != SQLITE_DONE)
        return -2;
    int64_t id = sqlite3_last_insert_rowid(ym_db_handle(db));
    return ym_search_sync_user(db, id) == 0 ? id : -2;
}

/* ---------- roles and grants ---------- */

int64_t ym_role_id(ym_db *db, const char *key)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT id FROM core_roles WHERE key = ?1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

int ym_grant_create(ym_db *db, int64_t user_id, const char *role_key, int64_t unit_id, bool descendants,
                    int64_t by_user, char *err, size_t errlen)
{
    int64_t role = ym_role_id(db, role_key);
    if (role <= 0) {
        snprintf(err, errlen, "no such role %s", role_key);
        return -1;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_grants (user_id, role_id, unit_id, include_descendants, created_at, created_by) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (user_id, role_id, unit_id) DO UPDATE SET "
        "include_descendants = excluded.include_descendants");
    if (!st)
        return -2;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, role);
    sqlite3_bind_int64(st, 3, unit_id);
    sqlite3_bind_int(st, 4, descendants ? 1 : 0);
    sqlite3_bind_int64(st, 5, ym_now());
    if (by_user)
        sqlite3_bind_int64(st, 6, by_user);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "cannot grant: %s", ym_db_errmsg(db));
        return rc == SQLITE_CONSTRAINT ? -1 : -2;
    }
    return 0;
}

/* ---------- the permission check ---------- */

/* Does user hold perm through a grant whose scope covers target_path ("" = any unit)? */
static int grants_allow(ym_db *db, int64_t user_id, const char *perm, const char *target_path)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT rp.permission, g.unit_id, g.include_descendants, u.path FROM core_grants g "
        "JOIN core_role_permissions rp ON rp.role_id = g.role_id JOIN core_units u ON u.id = g.unit_id "
        "WHERE g.user_id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, user_id);
    int allowed = 0, rc;
    while (!allowed && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!ym_perm_covers((const char *)sqlite3_column_text(st, 0), perm))
            continue;
        const char *gpath = (const char *)sqlite3_column_text(st, 3);
        if (!*target_path)
            allowed = 1;
        else if (sqlite3_column_int(st, 2))
            allowed = path_within(target_path, gpath);
        else
            allowed = strcmp(target_path, gpath) == 0;
    }
    sqlite3_reset(st);
    return allowed;
}

static bool json_perms_cover(json_t *arr, const char *perm)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && ym_perm_covers(json_string_value(v), perm)) return true;
    return false;
}

static int delegations_allow(ym_db *db, ym_principal *p, const char *perm, const char *target_path)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT from_user_id, permissions FROM core_delegations WHERE to_user_id = ?1 AND revoked_at IS NULL "
        "AND starts_at <= ?2 AND ends_at > ?2 ORDER BY id");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, p->user_id);
    sqlite3_bind_int64(st, 2, ym_now());
    int64_t from[16];
    size_t n = 0;
    while (n < 16 && sqlite3_step(st) == SQLITE_ROW) {
        json_t *perms = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        if (perms && json_perms_cover(perms, perm))
            from[n++] = sqlite3_column_int64(st, 0);
        json_decref(perms);
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        int rc = grants_allow(db, from[i], perm, target_path);
        if (rc != 0) {
            if (rc > 0)
                p->acting_for = from[i];
            return rc;
        }
    }
    return 0;
}

int ym_may(ym_db *db, ym_principal *p, const char *perm, int64_t unit_id)
{
    char target[512] = "";
    if (p)
        p->acting_for = 0; /* whatever an earlier check found no longer applies */
    if (!p || !p->user_id)
        return 0;
    if (unit_id) {
        int rc = unit_path(db, unit_id, target, sizeof target);
        if (rc <= 0)
            return rc;
    }
    if (p->token_perms) { /* an API token never exceeds its own scope */
        if (!json_perms_cover(p->token_perms, perm))
            return 0;
        if (unit_id) {
            char tpath[512];
            if (unit_path(db, p->token_unit, tpath, sizeof tpath) != 1)
                return 0;
            if (p->token_descendants ? !path_within(target, tpath) : strcmp(target, tpath) != 0)
                return 0;
        }
    }
    int rc = grants_allow(db, p->user_id, perm, target);
    if (rc != 0)
        return rc;
    return p->token_perms ? 0 : delegations_allow(db, p, perm, target);
}

/* ---------- built-in roles and bootstrap ---------- */

typedef struct builtin_role {
    const char *key, *name, *desc;
    const char *perms[16];
} builtin_role;

static const builtin_role builtin_roles[] = {
    {"system_admin", "系统管理员", "every permission of the core and the plugins except the audit log",
     {"*", NULL}},
    {"security_admin", "安全管理员", "accounts' security: unlock, reset passwords, roles and grants",
     {"users.read", "users.unlock", "users.password", "users.disable", "units.read", "roles.read", "roles.manage",
      "grants.read", "grants.manage", "contacts.read", NULL}},
    {"audit_admin", "审计管理员", "reads the audit log; changes nothing",
     {"audit.read", "users.read", "units.read", "contacts.read", NULL}},
    {"unit_admin", "单位管理员", "manages the users of its own unit subtree",
     {"units.read", "units.manage", "users.read", "users.manage", "users.password", "users.unlock", "users.disable",
      "grants.read", "grants.manage", "roles.read", "contacts.read", NULL}},
    {"clerk", "收发员", "signs for and dispatches what reaches the unit", {"units.read", "contacts.read", NULL}},
    {"leader", "领导", "leads a unit: instructions and sign-off", {"units.read", "contacts.read", NULL}},
    {"staff", "工作人员", "every member of staff", {"units.read", "contacts.read", NULL}},
    {"duty_officer", "值班员", "the last step of escalations: phone calls", {"units.read", "contacts.read", NULL}},
};

static int ensure_role(ym_db *db, const builtin_role *r)
{
    int64_t now = ym_now();
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_roles (key, name, description, builtin, created_at, updated_at) VALUES (?1, ?2, ?3, 1, ?4, ?4) "
        "ON CONFLICT (key) DO NOTHING");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->desc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    int64_t id = ym_role_id(db, r->key);
    if (rc != SQLITE_DONE || id <= 0)
        return -1;
    for (int i = 0; r->perms[i]; i++) {
        st = ym_db_prepare(db, "core", "INSERT OR IGNORE INTO core_role_permissions (role_id, permission) VALUES (?1, ?2)");
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, r->perms[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return -1;
    }
    return 0;
}

int ym_identity_bootstrap(ym_db *db, const char *county_name, const char *admin_hash, bool must_change,
                          char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof builtin_roles / sizeof *builtin_roles; i++)
        if (ensure_role(db, &builtin_roles[i]) < 0) {
            snprintf(err, errlen, "cannot create built-in roles: %s", ym_db_errmsg(db));
            return -1;
        }
    int64_t root = ym_root_unit(db);
    if (root < 0) {
        snprintf(err, errlen, "cannot read units: %s", ym_db_errmsg(db));
        return -1;
    }
    char field[32];
    if (root == 0 && (root = ym_unit_create(db, 0, "county", county_name, NULL, NULL, 0, field, sizeof field, err, errlen)) < 0)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT id FROM core_users WHERE username = 'admin'");
    if (!st)
        return -1;
    int exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (exists || !admin_hash)
        return 0;
    int64_t uid = ym_user_create(db, "admin", "系统管理员", root, "系统管理员", "", admin_hash, must_change, field,
                                 sizeof field, err, errlen);
    if (uid < 0 || ym_grant_create(db, uid, YM_ROLE_SYSTEM_ADMIN, root, true, 0, err, errlen) < 0)
        return -1;
    return 1;
}

/* ---------- JSON shapes ---------- */

json_t *ym_unit_json(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id, parent_id, kind, name, short_name, credit_code, sort, active FROM core_units WHERE id = ?1");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    json_t *j = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        j = json_pack("{s:I,s:o,s:s,s:s,s:o,s:o,s:i,s:b}", "id", (json_int_t)sqlite3_column_int64(st, 0), "parent_id",
                      sqlite3_column_type(st, 1) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, 1)),
                      "kind", (const char *)sqlite3_column_text(st, 2), "name", (const char *)sqlite3_column_text(st, 3),
                      "short_name", sqlite3_column_type(st, 4) == SQLITE_NULL ? json_null() : json_string((const char *)sqlite3_column_text(st, 4)),
                      "credit_code", sqlite3_column_type(st, 5) == SQLITE_NULL ? json_null() : json_string((const char *)sqlite3_column_text(st, 5)),
                      "sort", sqlite3_column_int(st, 6), "active", sqlite3_column_int(st, 7));
    }
    sqlite3_reset(st);
    return j;
}

json_t *ym_user_json(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id, username, display_name, unit_id, title, phone, status, locked_until, totp_enabled, must_change "
        "FROM core_users WHERE id = ?1");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    json_t *j = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 6);
        if (strcmp(status, "active") == 0 && sqlite3_column_type(st, 7) != SQLITE_NULL &&
            sqlite3_column_int64(st, 7) > ym_now())
            status = "locked";
        j = json_pack("{s:I,s:s,s:s,s:I,s:s,s:s,s:s,s:b,s:b,s:[]}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                      "username", (const char *)sqlite3_column_text(st, 1), "display_name",
                      (const char *)sqlite3_column_text(st, 2), "unit_id", (json_int_t)sqlite3_column_int64(st, 3),
                      "title", (const char *)sqlite3_column_text(st, 4), "phone", (const char *)sqlite3_column_text(st, 5),
                      "status", status, "totp_enabled", sqlite3_column_int(st, 8), "must_change_password",
                      sqlite3_column_int(st, 9), "extra_unit_ids");
    }
    sqlite3_reset(st);
    if (!j)
        return NULL;
    st = ym_db_prepare(db, "core", "SELECT unit_id FROM core_user_units WHERE user_id = ?1 ORDER BY unit_id");
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        json_t *extra = json_object_get(j, "extra_unit_ids");
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(extra, json_integer(sqlite3_column_int64(st, 0)));
        sqlite3_reset(st);
    }
    return j;
}
