/* tests/bench/documents_replay.c: the replay of tests/bench/documents.sh (part 2).
 *
 *   documents_replay URL USERS.json STEPS PROCS THREADS
 *
 * Realistic flows through the HTTP API (127.0.0.1 only) until STEPS flow-log rows (流转)
 * are written: draft (30 % saved again) → submit → review → sign-off → dispatch to 1..22
 * units → archive; per recipient: sign (the dispatch engine, no flow row) → register →
 * 60 %: propose → instruct → assign → complete, 40 %: circulate to 3 readers (sequence or
 * parallel) → each reads → propose → assign → complete; → archive.
 * PROCS × THREADS threads (one process: the split into processes of the earlier client
 * only worked around its interpreter lock), each with one keep-alive connection (a libcurl
 * easy handle), each running whole flows until its share STEPS / (PROCS × THREADS) is
 * reached. Prints one JSON line: steps, requests, seconds, errors, first_error.
 * USERS.json is what `documents_bench.py setup` wrote.
 * Built by documents.sh: cc -O2 documents_replay.c $(pkg-config --cflags --libs libcurl jansson) -pthread
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXU 256

typedef struct {
    long id;
    char auth[320];
} user;

static const char *base_url;
static user office, desk, readers[8];
static int nreaders;
static long towns[MAXU], others[MAXU], depts[MAXU]; /* others: towns then departments */
static int ntowns, nothers, ndepts;
static long quota;
static int year;

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static long nerrors;
static char first_error[400];

typedef struct {
    CURL *h;
    uint64_t rnd;
    long steps, requests, seq;
    char *buf;
    size_t len, cap;
    long status;
    char err[400];
} flow;

static double rnd01(flow *f)
{
    /* xorshift64* */
    f->rnd ^= f->rnd >> 12;
    f->rnd ^= f->rnd << 25;
    f->rnd ^= f->rnd >> 27;
    return (double)((f->rnd * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static int rndint(flow *f, int n) { return (int)(rnd01(f) * n); }

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    flow *f = ud;
    size_t k = sz * n;
    if (f->len + k + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + k + 1)
            cap *= 2;
        char *b = realloc(f->buf, cap);
        if (!b)
            return 0;
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, p, k);
    f->len += k;
    f->buf[f->len] = 0;
    return k;
}

/* One request; 0 when answered 200/201/204 (f->buf holds the body), -1 otherwise with
 * f->err set. Connection failures are retried twice on a fresh connection. */
static int call(flow *f, const char *method, const char *path, const char *body, const user *u, int steps)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, u->auth);
    hd = curl_slist_append(hd, "Expect:");
    if (body)
        hd = curl_slist_append(hd, "Content-Type: application/json");
    CURLcode rc = CURLE_OK;
    for (int attempt = 0; attempt < 3; attempt++) {
        f->len = 0;
        if (f->buf)
            f->buf[0] = 0;
        curl_easy_setopt(f->h, CURLOPT_URL, url);
        curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(f->h, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
            curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(f->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        } else if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(f->h, CURLOPT_POSTFIELDSIZE, 0L);
        } else {
            curl_easy_setopt(f->h, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(f->h, CURLOPT_CUSTOMREQUEST, method);
        }
        rc = curl_easy_perform(f->h);
        if (rc == CURLE_OK)
            break;
    }
    curl_slist_free_all(hd);
    if (rc != CURLE_OK) {
        snprintf(f->err, sizeof f->err, "%s %s -> %s", method, path, curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &f->status);
    if (f->status != 200 && f->status != 201 && f->status != 204) {
        snprintf(f->err, sizeof f->err, "%s %s -> %ld %.300s", method, path, f->status, f->buf ? f->buf : "");
        return -1;
    }
    f->requests++;
    f->steps += steps;
    return 0;
}

/* The integer member KEY of the last answer, or -1. */
static long answer_id(flow *f, const char *key)
{
    json_t *j = json_loadb(f->buf ? f->buf : "", f->len, 0, NULL);
    long v = -1;
    if (j && json_is_integer(json_object_get(j, key)))
        v = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    if (v < 0)
        snprintf(f->err, sizeof f->err, "no \"%s\" in %.300s", key, f->buf ? f->buf : "");
    return v;
}

#define CALL(...) do { if (call(f, __VA_ARGS__) < 0) return -1; } while (0)

static int incoming(flow *f, long did, long unit)
{
    char path[128], body[256];
    snprintf(path, sizeof path, "/api/dispatches/%ld/sign", did);
    snprintf(body, sizeof body, "{\"unit_id\": %ld}", unit);
    CALL("POST", path, body, &desk, 0);
    snprintf(body, sizeof body, "{\"dispatch_id\": %ld, \"unit_id\": %ld}", did, unit);
    CALL("POST", "/api/documents/incoming", body, &desk, 1);
    long id = answer_id(f, "id");
    if (id < 0)
        return -1;
    char p[128];
    int n = snprintf(p, sizeof p, "/api/documents/incoming/%ld", id);
#define AT(s) (snprintf(p + n, sizeof p - (size_t)n, "%s", s), p)
    char assign[160];
    if (rnd01(f) < 0.6) {
        CALL("POST", AT("/propose"), "{\"opinion\": \"拟请分管领导阅示\"}", &desk, 1);
        CALL("POST", AT("/instruct"), "{\"text\": \"请抓好落实\"}", &desk, 1);
        snprintf(assign, sizeof assign, "{\"department\": %ld, \"deadline\": \"%d-12-31\"}",
                 depts[rndint(f, ndepts)], year);
        CALL("POST", AT("/assign"), assign, &desk, 1);
        CALL("POST", AT("/complete"), "{\"result\": \"已按要求办结\"}", &desk, 1);
    } else {
        int pick[8], k = 0;
        for (int i = 0; i < nreaders; i++)
            pick[i] = i;
        for (k = 0; k < 3 && k < nreaders; k++) {
            int j = k + rndint(f, nreaders - k);
            int t = pick[k];
            pick[k] = pick[j];
            pick[j] = t;
        }
        const char *mode = rnd01(f) < 0.5 ? "sequence" : "parallel";
        snprintf(body, sizeof body, "{\"user_ids\": [%ld, %ld, %ld], \"mode\": \"%s\"}", readers[pick[0]].id,
                 readers[pick[1]].id, readers[pick[2]].id, mode);
        CALL("POST", AT("/circulate"), body, &desk, 1);
        for (int i = 0; i < k; i++)
            CALL("POST", AT("/read"), "{\"comment\": \"已阅\"}", &readers[pick[i]], 1);
        CALL("POST", AT("/propose"), "{\"opinion\": \"传阅后由承办部门办理\"}", &desk, 1);
        snprintf(assign, sizeof assign, "{\"department\": %ld, \"deadline\": \"%d-12-31\"}",
                 depts[rndint(f, ndepts)], year);
        CALL("POST", AT("/assign"), assign, &desk, 1);
        CALL("POST", AT("/complete"), "{\"result\": \"已按要求办结\"}", &desk, 1);
    }
    CALL("POST", AT("/archive"), "{\"comment\": \"归档\"}", &desk, 1);
#undef AT
    return 0;
}

static int document(flow *f)
{
    static const char *topics[] = {"森林防火", "安全生产", "防汛抗旱", "春耕备耕", "人居环境整治", "乡村振兴",
                                   "疫情防控", "信访维稳", "冬季取暖", "道路交通安全"};
    static const char *urgencies[] = {"", "", "", "加急", "特急"};
    static const int fanout[] = {1, 1, 2, 2, 3, 3, 4, 5, 8, 22};
    const char *topic = topics[rndint(f, 10)];
    char body[2048], p[128];
    f->seq++;
    snprintf(body, sizeof body,
             "{\"doc_type\": \"通知\", \"title\": \"关于做好%s工作的通知（%ld）\", \"issuer_organ\": \"某县人民政府办公室\", "
             "\"org_code\": \"县政办发\", \"main_to\": [\"各乡镇人民政府\", \"县直各单位\"], "
             "\"body\": \"各乡镇人民政府，县直各单位：\\n为切实做好%s工作，现将有关事项通知如下。一、提高认识，加强领导。"
             "二、突出重点，狠抓落实。三、强化督查，严肃问责。\", \"signature_organ\": \"某县人民政府办公室\", "
             "\"doc_date\": \"%d-11-20\", \"urgency\": \"%s\"}",
             topic, f->seq, topic, year, urgencies[rndint(f, 5)]);
    CALL("POST", "/api/documents", body, &office, 1);
    long id = answer_id(f, "id");
    if (id < 0)
        return -1;
    int n = snprintf(p, sizeof p, "/api/documents/%ld", id);
#define AT(s) (snprintf(p + n, sizeof p - (size_t)n, "%s", s), p)
    if (rnd01(f) < 0.3)
        CALL("PATCH", AT(""), "{\"notes\": \"（此件公开发布）\"}", &office, 1);
    CALL("POST", AT("/submit"), NULL, &office, 1);
    CALL("POST", AT("/review"), "{\"decision\": \"pass\", \"comment\": \"同意\"}", &office, 1);
    CALL("POST", AT("/signoff"), "{\"decision\": \"approve\", \"comment\": \"同意印发\"}", &office, 1);
    int k = fanout[rndint(f, 10)];
    long units[MAXU];
    int nu;
    if (k < 22) {
        long pool[MAXU];
        memcpy(pool, others, sizeof(long) * (size_t)nothers);
        for (int i = 0; i < k; i++) {
            int j = i + rndint(f, nothers - i);
            long t = pool[i];
            pool[i] = pool[j];
            pool[j] = t;
            units[i] = pool[i];
        }
        nu = k;
    } else {
        memcpy(units, towns, sizeof(long) * (size_t)ntowns);
        nu = ntowns;
    }
    size_t o = (size_t)snprintf(body, sizeof body, "{\"main\": [");
    for (int i = 0; i < nu; i++)
        o += (size_t)snprintf(body + o, sizeof body - o, "%s%ld", i ? ", " : "", units[i]);
    snprintf(body + o, sizeof body - o, "]}");
    CALL("POST", AT("/dispatch"), body, &office, 1);
    long did = answer_id(f, "dispatch_id");
    if (did < 0)
        return -1;
    for (int i = 0; i < nu; i++)
        if (incoming(f, did, units[i]) < 0)
            return -1;
    CALL("POST", AT("/archive"), "{\"comment\": \"归档\"}", &office, 1);
#undef AT
    return 0;
}

static void *run(void *arg)
{
    flow *f = arg;
    f->h = curl_easy_init();
    curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(f->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(f->h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(f->h, CURLOPT_PROXY, "");
    while (f->steps < quota)
        if (document(f) < 0) {
            pthread_mutex_lock(&err_lock);
            if (nerrors++ == 0)
                snprintf(first_error, sizeof first_error, "%s", f->err);
            pthread_mutex_unlock(&err_lock);
            break;
        }
    curl_easy_cleanup(f->h);
    free(f->buf);
    return NULL;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("documents_replay: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void load_user(user *u, json_t *j)
{
    json_t *id = json_object_get(j, "id"), *tok = json_object_get(j, "token");
    if (!json_is_integer(id) || !json_is_string(tok))
        die("a user without id or token in the users file");
    u->id = (long)json_integer_value(id);
    snprintf(u->auth, sizeof u->auth, "Authorization: Bearer %s", json_string_value(tok));
}

static int load_ids(long *out, json_t *a)
{
    size_t i;
    json_t *v;
    if (!json_is_array(a) || json_array_size(a) > MAXU)
        die("a unit list missing or too long in the users file");
    json_array_foreach(a, i, v) out[i] = (long)json_integer_value(v);
    return (int)json_array_size(a);
}

int main(int argc, char **argv)
{
    if (argc != 6)
        die("usage: documents_replay URL USERS.json STEPS PROCS THREADS");
    base_url = argv[1];
    long steps = atol(argv[3]);
    int procs = atoi(argv[4]), threads = atoi(argv[5]);
    if (steps < 1 || procs < 1 || threads < 1 || procs * threads > 2048)
        die("bad STEPS, PROCS or THREADS");
    json_error_t jerr;
    json_t *cfg = json_load_file(argv[2], 0, &jerr);
    if (!cfg)
        die("%s: %s", argv[2], jerr.text);
    json_t *us = json_object_get(cfg, "users");
    load_user(&office, json_object_get(us, "office"));
    load_user(&desk, json_object_get(us, "desk"));
    json_t *rs = json_object_get(us, "readers");
    if (!json_is_array(rs) || json_array_size(rs) < 3 || json_array_size(rs) > 8)
        die("3..8 readers expected in the users file");
    nreaders = (int)json_array_size(rs);
    for (int i = 0; i < nreaders; i++)
        load_user(&readers[i], json_array_get(rs, (size_t)i));
    ntowns = load_ids(towns, json_object_get(cfg, "towns"));
    ndepts = load_ids(depts, json_object_get(cfg, "depts"));
    if (ntowns < 22 || ntowns + ndepts > MAXU)
        die("unexpected unit counts in the users file");
    memcpy(others, towns, sizeof(long) * (size_t)ntowns);
    memcpy(others + ntowns, depts, sizeof(long) * (size_t)ndepts);
    nothers = ntowns + ndepts;
    json_decref(cfg);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    year = tm.tm_year + 1900;

    int n = procs * threads;
    quota = steps / n > 0 ? steps / n : 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    flow *fs = calloc((size_t)n, sizeof *fs);
    pthread_t *ts = calloc((size_t)n, sizeof *ts);
    if (!fs || !ts)
        die("out of memory");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        /* the seeds of the earlier client: process p (1..PROCS) * 100 + thread k */
        long seed = (long)(i / threads + 1) * 100 + i % threads;
        fs[i].rnd = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed * 0xBF58476D1CE4E5B9ULL);
        if (!fs[i].rnd)
            fs[i].rnd = 1;
        fs[i].seq = seed * 1000000;
        if (pthread_create(&ts[i], NULL, run, &fs[i]) != 0)
            die("pthread_create failed");
    }
    long tsteps = 0, treq = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(ts[i], NULL);
        tsteps += fs[i].steps;
        treq += fs[i].requests;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    char *fe = NULL;
    if (nerrors) {
        /* the body was cut at a byte count: drop a split UTF-8 sequence at the end */
        size_t len = strlen(first_error);
        json_t *s = NULL;
        for (int k = 0; !s && k < 4 && len > 0; k++, len--)
            s = json_stringn(first_error, len);
        fe = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        json_decref(s);
    }
    printf("{\"steps\": %ld, \"requests\": %ld, \"seconds\": %.2f, \"errors\": %ld, \"first_error\": %s}\n", tsteps,
           treq, secs, nerrors, fe ? fe : "null");
    free(fe);
    free(fs);
    free(ts);
    curl_global_cleanup();
    return 0;
}
