/* demo: builds the fictional county 云溪县 from a seed (xorshift64*, never rand()) in one
 * write: departments, townships, villages, staff with names, titles, phones and roles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "demo.h"
#include "search.h"
#include "auditlog.h"
#include "identity.h"
#include "password.h"
#include "clock.h"

#define COUNTY "云溪县"
#define COUNTY_SHORT "云政"
#define NDEPTS 41
#define NTOWNS YM_DEMO_TOWNSHIPS
#define NVILLAGES (YM_DEMO_UNITS - 1 - NDEPTS - NTOWNS)    /* 509 */
#define NHEADS (1 + NDEPTS + NTOWNS)                        /* units with more staff than two */
#define MAX_VILLAGES_PER_TOWN 60
#define CITY_COMMUNITIES 8                                  /* 城关镇's first villages are 社区 */

typedef struct dept {
    const char *name, *short_name, *head;
} dept;

static const dept depts[NDEPTS] = {
    {"县委办公室", "云委办", "主任"}, {"县政府办公室", "云政办", "主任"}, {"县发展和改革局", "云发改", "局长"},
    {"县财政局", "云财", "局长"}, {"县税务局", "云税", "局长"}, {"县教育局", "云教", "局长"},
    {"县公安局", "云公", "局长"}, {"县民政局", "云民", "局长"}, {"县人力资源和社会保障局", "云人社", "局长"},
    {"县自然资源局", "云自然资", "局长"}, {"县住房和城乡建设局", "云住建", "局长"}, {"县交通运输局", "云交", "局长"},
    {"县农业农村局", "云农", "局长"}, {"县水利局", "云水", "局长"}, {"县商务局", "云商", "局长"},
    {"县文化和旅游局", "云文旅", "局长"}, {"县卫生健康委员会", "云卫健", "主任"}, {"县应急管理局", "云应急", "局长"},
    {"县审计局", "云审", "局长"}, {"县市场监督管理局", "云市监", "局长"}, {"县统计局", "云统", "局长"},
    {"县医疗保障局", "云医保", "局长"}, {"县信访局", "云信访", "局长"}, {"县司法局", "云司", "局长"},
    {"县生态环境局", "云环", "局长"}, {"县退役军人事务局", "云退役", "局长"}, {"县林业局", "云林", "局长"},
    {"县科技局", "云科", "局长"}, {"县工业和信息化局", "云工信", "局长"}, {"县数据管理局", "云数据", "局长"},
    {"县机关事务管理局", "云机管", "局长"}, {"县委组织部", "云组", "部长"}, {"县委宣传部", "云宣", "部长"},
    {"县委统战部", "云统战", "部长"}, {"县委政法委", "云政法", "书记"}, {"县纪委监委", "云纪", "书记"},
    {"县人大常委会办公室", "云人大办", "主任"}, {"县政协办公室", "云政协办", "主任"}, {"县总工会", "云工会", "主席"},
    {"团县委", "云团", "书记"}, {"县妇联", "云妇", "主席"},
};

static const char *const towns[NTOWNS] = {
    "城关镇", "东湖镇", "西山镇", "南岭镇", "北溪镇", "青石镇", "白沙镇", "云峰镇", "龙泉镇", "凤山镇", "桃源镇",
    "梅溪镇", "金竹乡", "石门乡", "清水乡", "长岭乡", "大洋乡", "溪口乡", "马鞍乡", "双峰乡", "黄土乡", "樟林乡",
};

/* Village names: one of 30 x 30 two-character names, distinct across the county. */
static const char village_a[] = "东西南北上下前后大小新旧高长石竹桃梅松枫龙凤金银黄白青柳杨茶";
static const char village_b[] = "溪岭坑洋山湖田坪塘桥岗湾口头洲坂厝墩埔屿林源峰亭庄寨园垄埕浦";

/* Surnames with their approximate share of the population in 0.1 % steps. */
static const struct { const char *s; int w; } surnames[] = {
    {"王", 71}, {"李", 70}, {"张", 66}, {"刘", 54}, {"陈", 45}, {"杨", 31}, {"黄", 22}, {"赵", 20}, {"吴", 19},
    {"周", 19}, {"徐", 13}, {"孙", 12}, {"马", 11}, {"朱", 11}, {"胡", 10}, {"郭", 10}, {"何", 9}, {"高", 9},
    {"林", 9}, {"罗", 8}, {"郑", 8}, {"梁", 7}, {"谢", 6}, {"宋", 6}, {"唐", 6}, {"许", 5}, {"韩", 5}, {"冯", 5},
    {"邓", 5}, {"曹", 5}, {"彭", 5}, {"曾", 5}, {"肖", 4}, {"田", 4}, {"董", 4}, {"袁", 4}, {"潘", 4}, {"于", 4},
    {"蒋", 4}, {"蔡", 4}, {"余", 4}, {"杜", 4}, {"叶", 4}, {"程", 3}, {"苏", 3}, {"魏", 3}, {"吕", 3}, {"丁", 3},
    {"任", 3}, {"沈", 3}, {"姚", 3}, {"卢", 3}, {"姜", 3}, {"崔", 3}, {"钟", 3}, {"谭", 3}, {"陆", 3}, {"汪", 2},
    {"范", 2}, {"金", 2}, {"石", 2}, {"廖", 2}, {"贾", 2}, {"夏", 2}, {"韦", 2}, {"付", 2}, {"方", 2}, {"白", 2},
    {"邹", 2}, {"孟", 2}, {"熊", 2}, {"秦", 2}, {"邱", 2}, {"江", 2}, {"尹", 2}, {"薛", 2}, {"闫", 2}, {"段", 2},
    {"雷", 2}, {"侯", 2}, {"龙", 2}, {"史", 2}, {"陶", 1}, {"黎", 1}, {"贺", 1}, {"顾", 1}, {"毛", 1}, {"郝", 1},
    {"龚", 1}, {"邵", 1}, {"万", 1}, {"钱", 1}, {"严", 1}, {"覃", 1}, {"武", 1}, {"戴", 1}, {"莫", 1}, {"孔", 1},
    {"向", 1}, {"汤", 1},
};

static const char given_chars[] = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰华建国文辉玉红志海燕林鹏晓宇婷"
                                  "雪琳斌波宁春梅俊峰浩欣佳思雨嘉怡博天家成新永德安荣金生云福立松丹凤晨阳光振";

static const char *const phone_prefixes[] = {"130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                                             "151", "152", "153", "155", "156", "157", "158", "159", "177", "180",
                                             "181", "182", "183", "185", "186", "187", "188", "189", "199"};

/* ---------- the generator ---------- */

typedef struct rng {
    uint64_t s;
} rng;

static void rng_seed(rng *g, uint64_t seed)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL; /* splitmix64: no zero state for any seed */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    g->s = (z ^ (z >> 31)) | 1;
}

static uint64_t rng_next(rng *g) /* xorshift64* */
{
    g->s ^= g->s >> 12;
    g->s ^= g->s << 25;
    g->s ^= g->s >> 27;
    return g->s * 0x2545f4914f6cdd1dULL;
}

static uint32_t rng_below(rng *g, uint32_t n)
{
    return (uint32_t)((rng_next(g) >> 32) % n);
}

/* The i-th character (3 bytes in UTF-8) of a string of CJK characters. */
static void cjk_at(const char *s, size_t i, char *out)
{
    memcpy(out, s + 3 * i, 3);
    out[3] = 0;
}

static void person_name(rng *g, char *out, size_t len)
{
    int total = 0;
    for (size_t i = 0; i < sizeof surnames / sizeof *surnames; i++)
            total += surnames[i].w;
    int pick = (int)rng_below(g, (uint32_t)total);
    size_t i = 0;
    while (pick >= surnames[i].w)
        pick -= surnames[i++].w;
    size_t nchars = (sizeof given_chars - 1) / 3;
    char a[4], b[4];
    cjk_at(given_chars, rng_below(g, (uint32_t)nchars), a);
    cjk_at(given_chars, rng_below(g, (uint32_t)nchars), b);
    snprintf(out, len, "%s%s%s", surnames[i].s, a, b);
}

static void phone(rng *g, char *out, size_t len)
{
    const char *p = phone_prefixes[rng_below(g, sizeof phone_prefixes / sizeof *phone_prefixes)];
    snprintf(out, len, "%s%08u", p, rng_below(g, 100000000u));
}

/* ---------- the plan: units and how many people each has ---------- */

typedef enum { K_COUNTY, K_DEPT, K_TOWN, K_VILLAGE } unit_kind;

typedef struct unit_plan {
    unit_kind k;
    int index;              /* into depts / towns; the township of a village */
    char name[64], code[32];
    int staff;              /* beyond the leader and the clerk */
    int64_t id;
} unit_plan;

typedef struct plan {
    unit_plan u[YM_DEMO_UNITS];
    int n;
} plan;

static void plan_villages(rng *g, plan *p, const int *per_town)
{
    int order[30 * 30];
    for (int i = 0; i < 900; i++)
        order[i] = i;
    for (int i = 0; i < NVILLAGES; i++) { /* a partial Fisher-Yates shuffle picks distinct names */
        int j = i + (int)rng_below(g, (uint32_t)(900 - i)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int used = 0;
    for (int t = 0; t < NTOWNS; t++)
        for (int v = 0; v < per_town[t]; v++, used++) {
            unit_plan *u = &p->u[p->n++];
            char a[4], b[4];
            cjk_at(village_a, (size_t)(order[used] / 30), a);
            cjk_at(village_b, (size_t)(order[used] % 30), b);
            *u = (unit_plan){.k = K_VILLAGE, .index = t};
            snprintf(u->name, sizeof u->name, "%s%s%s", a, b, t == 0 && v < CITY_COMMUNITIES ? "社区" : "村");
            snprintf(u->code, sizeof u->code, "t%02dv%02d", t + 1, v + 1);
        }
}

static int head_weight(const unit_plan *u)
{
    return u->k == K_TOWN ? 3 : 2;
}

static void plan_county(rng *g, plan *p)
{
    p->n = 0;
    p->u[p->n++] = (unit_plan){.k = K_COUNTY, .name = COUNTY, .code = "cty"};
    for (int i = 0; i < NDEPTS; i++) {
        unit_plan *u = &p->u[p->n++];
        *u = (unit_plan){.k = K_DEPT, .index = i};
        snprintf(u->name, sizeof u->name, "%s", depts[i].name);
        snprintf(u->code, sizeof u->code, "d%02d", i + 1);
    }
    for (int i = 0; i < NTOWNS; i++) {
        unit_plan *u = &p->u[p->n++];
        *u = (unit_plan){.k = K_TOWN, .index = i};
        snprintf(u->name, sizeof u->name, "%s", towns[i]);
        snprintf(u->code, sizeof u->code, "t%02d", i + 1);
    }
    int per_town[NTOWNS];
    for (int i = 0; i < NTOWNS; i++)
        per_town[i] = 15;
    for (int left = NVILLAGES - 15 * NTOWNS; left > 0;) {
        int t = (int)rng_below(g, NTOWNS);
        if (per_town[t] < MAX_VILLAGES_PER_TOWN)
            per_town[t]++, left--;
    }
    plan_villages(g, p, per_town);
    /* everyone beyond a leader and a clerk per unit works at the county, a department
     * or a township; townships (weight 3) are busier than departments (weight 2) */
    for (int left = YM_DEMO_USERS - 2 * YM_DEMO_UNITS; left > 0; left--) {
        int pick = (int)rng_below(g, 2 + 2 * NDEPTS + 3 * NTOWNS), i = 0;
        while (pick >= head_weight(&p->u[i]))
            pick -= head_weight(&p->u[i++]);
        p->u[i].staff++;
    }
}

/* ---------- titles ---------- */

static void title_of(rng *g, const unit_plan *u, int role, char *out, size_t len)
{
    static const char *const dept_staff[] = {"股长", "科员", "科员", "办事员"};
    static const char *const town_staff[] = {"党政办主任", "科员", "科员", "干部"};
    bool zhen = u->k == K_TOWN && strstr(towns[u->index], "镇") != NULL;
    const char *head = u->k == K_COUNTY ? "县长" : u->k == K_DEPT ? depts[u->index].head : u->k == K_TOWN ?
                       (zhen ? "镇长" : "乡长") : strstr(u->name, "社区") ? "居委会主任" : "村委会主任";
    if (role == 0) /* leader */
        snprintf(out, len, "%s", head);
    else if (role == 1) /* clerk */
        snprintf(out, len, "%s", u->k == K_COUNTY ? "收发员" : u->k == K_TOWN ? "党政办文书" : "文书");
    else if (role == 2) /* the first further member: the deputy, or the township's party secretary */
        snprintf(out, len, "%s%s", u->k == K_TOWN ? "" : u->k == K_COUNTY ? "常务" : "副",
                 u->k == K_TOWN ? "党委书记" : u->k == K_COUNTY ? "副县长" : head);
    else if (u->k == K_TOWN && rng_below(g, 3) == 0)
        snprintf(out, len, "%s", zhen ? "副镇长" : "副乡长");
    else if (u->k == K_COUNTY)
        snprintf(out, len, "%s", rng_below(g, 2) ? "副县长" : "秘书");
    else
        snprintf(out, len, "%s", u->k == K_TOWN ? town_staff[rng_below(g, 4)] : dept_staff[rng_below(g, 4)]);
}

/* ---------- writing ---------- */

typedef struct ctx {
    ym_db *db;
    const ym_config *cfg;
    rng g;
    const char *hash;
    ym_demo_stats *st;
    char *err;
    size_t errlen;
} ctx;

static int fail(ctx *c, const char *what, const char *why)
{
    snprintf(c->err, c->errlen, "%s: %s", what, why && *why ? why : ym_db_errmsg(c->db));
    return -1;
}

static int rename_root(ctx *c, int64_t root)
{
    sqlite3_stmt *s = ym_db_prepare(c->db, "core",
        "UPDATE core_units SET name = ?1, short_name = ?2, updated_at = ?3 WHERE id = ?4");
    if (!s)
        return fail(c, "rename the county", NULL);
    sqlite3_bind_text(s, 1, COUNTY, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, COUNTY_SHORT, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, ym_now());
    sqlite3_bind_int64(s, 4, root);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE && ym_search_sync_unit(c->db, root) == 0 ? 0 : fail(c, "rename the county", NULL);
}

static int create_units(ctx *c, plan *p, int64_t root)
{
    char field[32], why[256], short_name[64];
    p->u[0].id = root;
    for (int i = 1; i < p->n; i++) {
        unit_plan *u = &p->u[i];
        int64_t parent = u->k == K_VILLAGE ? p->u[1 + NDEPTS + u->index].id : root;
        const char *kind = u->k == K_DEPT ? "department" : u->k == K_TOWN ? "township" : "village";
        if (u->k == K_DEPT)
            snprintf(short_name, sizeof short_name, "%s", depts[u->index].short_name);
        else if (u->k == K_TOWN) /* 城关镇 -> 城关: the name without 镇 or 乡 */
            snprintf(short_name, sizeof short_name, "%.*s", (int)strlen(u->name) - 3, u->name);
        else
            short_name[0] = 0;
        u->id = ym_unit_create(c->db, parent, kind, u->name, short_name, NULL, i, field, sizeof field, why,
                               sizeof why);
        if (u->id < 0)
            return fail(c, u->name, u->id == -1 ? why : NULL);
        c->st->units++;
        c->st->departments += u->k == K_DEPT;
        c->st->townships += u->k == K_TOWN;
        c->st->villages += u->k == K_VILLAGE;
    }
    c->st->units++; /* the county itself */
    return 0;
}

/* role: 0 leader, 1 clerk, 2.. further staff (s01, s02, ...). */
static int create_person(ctx *c, const unit_plan *u, int role)
{
    char username[48], name[32], title[48], tel[16], field[32], why[256];
    if (role < 2)
        snprintf(username, sizeof username, "%s.%s", u->code, role == 0 ? "leader" : "clerk");
    else
        snprintf(username, sizeof username, "%s.s%02d", u->code, role - 1);
    person_name(&c->g, name, sizeof name);
    title_of(&c->g, u, role, title, sizeof title);
    phone(&c->g, tel, sizeof tel);
    int64_t uid = ym_user_create(c->db, username, name, u->id, title, tel, c->hash, false, field, sizeof field, why,
                                 sizeof why);
    if (uid < 0)
        return fail(c, username, uid == -1 ? why : NULL);
    const char *extra = role == 0 ? "leader" : role == 1 ? "clerk" : NULL;
    if (ym_grant_create(c->db, uid, "staff", u->id, false, 0, why, sizeof why) < 0 ||
        (extra && ym_grant_create(c->db, uid, extra, u->id, false, 0, why, sizeof why) < 0))
        return fail(c, username, why);
    c->st->users++;
    c->st->grants += extra ? 2 : 1;
    return 0;
}

static int create_people(ctx *c, const plan *p)
{
    for (int i = 0; i < p->n; i++)
        for (int role = 0; role < 2 + p->u[i].staff; role++)
            if (create_person(c, &p->u[i], role) < 0)
                return -1;
    return 0;
}

static int finish_state(ctx *c, uint64_t seed, int64_t root)
{
    char target[32];
    snprintf(target, sizeof target, "unit:%lld", (long long)root);
    json_t *d = json_pack("{s:s,s:I,s:i,s:i}", "county", COUNTY, "seed", (json_int_t)seed, "units", c->st->units,
                          "users", c->st->users);
    int rc = ym_audit_cli(c->db, c->cfg, "cli.demo", target, d);
    json_decref(d);
    if (rc < 0)
        return fail(c, "audit", "cannot write the audit row");
    return ym_db_state_set_int(c->db, "demo_loaded", 1) < 0 ? fail(c, "core_state", NULL) : 0;
}

static int loaded(ym_db *db)
{
    long long v = 0;
    int rc = ym_db_state_get_int(db, "demo_loaded", &v);
    return rc < 0 ? -1 : rc == 0 && v != 0;
}

static int build(ctx *c, uint64_t seed)
{
    int was = loaded(c->db);
    if (was != 0)
        return was < 0 ? fail(c, "core_state", NULL) : 1;
    int64_t root = ym_root_unit(c->db);
    if (root <= 0)
        return fail(c, "the county", "no root unit (run yimen serve once, or check the database)");
    plan *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    plan_county(&c->g, p);
    int rc = rename_root(c, root);
    if (rc == 0)
        rc = create_units(c, p, root);
    if (rc == 0)
        rc = create_people(c, p);
    if (rc == 0)
        rc = finish_state(c, seed, root);
    free(p);
    return rc;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int ym_demo_load(ym_db *db, const ym_config *cfg, uint64_t seed, const char *password, ym_demo_stats *st,
                 char *err, size_t errlen)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *st = (ym_demo_stats){.county = COUNTY};
    char why[256], hash[256];
    int was = loaded(db);
    if (was != 0) {
        snprintf(err, errlen, was < 0 ? "cannot read core_state: %s" : "the demo county is already loaded%s",
                 was < 0 ? ym_db_errmsg(db) : "");
        return was < 0 ? -1 : 1;
    }
    if (ym_password_policy(cfg, password, NULL, why, sizeof why) < 0) {
        snprintf(err, errlen, "the demo password: %s", why);
        return -1;
    }
    ym_argon2_params prm;
    ym_argon2_params_from(cfg, &prm);
    if (ym_password_hash(password, &prm, hash, sizeof hash) < 0) { /* one hash for every account */
        snprintf(err, errlen, "cannot hash the demo password");
        return -1;
    }
    if (ym_db_write_begin(db) < 0) {
        snprintf(err, errlen, "the database is busy: %s", ym_db_errmsg(db));
        return -1;
    }
    ctx c = {.db = db, .cfg = cfg, .hash = hash, .st = st, .err = err, .errlen = errlen};
    rng_seed(&c.g, seed);
    int rc = build(&c, seed);
    if (rc == 1)
        snprintf(err, errlen, "the demo county is already loaded");
    if (ym_db_write_end(db, rc == 0) < 0 && rc == 0)
        rc = fail(&c, "write", NULL);
    if (ym_db_flush(db) < 0 && rc == 0)
        rc = fail(&c, "commit", NULL);
    st->seconds = seconds_since(&t0);
    return rc;
}

int ym_demo_db_empty(ym_db *db)
{
    int was = loaded(db);
    if (was != 0)
        return was < 0 ? -1 : 0;
    sqlite3_stmt *s = ym_db_prepare(db, "core",
        "SELECT (SELECT count(*) FROM core_units), (SELECT count(*) FROM core_users WHERE username <> 'admin')");
    if (!s)
        return -1;
    int rc = sqlite3_step(s), empty = rc == SQLITE_ROW && sqlite3_column_int(s, 0) <= 1 && sqlite3_column_int(s, 1) == 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? empty : -1;
}

void ym_demo_report(FILE *f, const ym_demo_stats *st, const char *password, bool from_env)
{
    fprintf(f, "demo county %s loaded in %.2f s: %d units (the county, %d departments, %d townships, "
               "%d villages and communities) and %d staff with %d role grants.\n",
            st->county, st->seconds, st->units, st->departments, st->townships, st->villages, st->users, st->grants);
    fprintf(f, "usernames: <unit>.leader, <unit>.clerk and <unit>.s01, .s02 ... for further staff, where <unit> is\n"
               "  cty (%s itself), d01-d%02d (departments, 县委办公室 first), t01-t%02d (townships, 城关镇 first),\n"
               "  t01v01, t01v02 ... (the villages and communities of t01).\n",
            st->county, st->departments, st->townships);
    if (from_env)
        fprintf(f, "password of every demo account: the value of YIMEN_DEMO_PASSWORD\n");
    else
        fprintf(f, "password of every demo account: %s (shown only now)\n", password);
    fprintf(f, "sign in as\n"
               "  clerk of 城关镇: username t01.clerk\n"
               "  leader of 城关镇: username t01.leader\n"
               "  clerk of 县财政局: username d04.clerk\n"
               "  leader of %s: username cty.leader\n"
               "  admin: username admin, password from YIMEN_ADMIN_PASSWORD or as printed when the database "
               "was created\n", st->county);
}
