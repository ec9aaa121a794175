/* password: Argon2id hashing (blocking, and on the libuv threadpool for requests),
 * the password policy with its common-password list, random tokens and SHA-256. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <strings.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "password.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define ENCODED_MAX 256      /* "$argon2id$v=19$m=4294967295,t=...": well under this */
#define PW_MAX_BYTES 1024    /* longer input is refused by the policy, not truncated */

/* ---- parameters and blocking hash/verify ---------------------------------------- */

void ym_argon2_params_from(const ym_config *cfg, ym_argon2_params *out)
{
    out->m_kib = (uint32_t)(cfg->auth.argon2.memory / 1024);
    out->t = (uint32_t)cfg->auth.argon2.iterations;
    out->p = (uint32_t)cfg->auth.argon2.parallelism;
}

int ym_password_hash(const char *pw, const ym_argon2_params *prm, char *out, size_t outlen)
{
    if (!pw || !prm || !out)
        return -1;
    /* argon2_encodedlen counts the terminating NUL. */
    if (outlen < argon2_encodedlen(prm->t, prm->m_kib, prm->p, SALT_LEN, HASH_LEN, Argon2_id))
        return -1;
    unsigned char salt[SALT_LEN];
    if (RAND_bytes(salt, sizeof salt) != 1)
        return -1;
    int rc = argon2id_hash_encoded(prm->t, prm->m_kib, prm->p, pw, strlen(pw), salt, sizeof salt,
                                   HASH_LEN, out, outlen);
    return rc == ARGON2_OK ? 0 : -1;
}

int ym_password_verify(const char *encoded, const char *pw)
{
    if (!encoded || !pw)
        return -1;
    int rc = argon2id_verify(encoded, pw, strlen(pw));
    if (rc == ARGON2_OK)
        return 1;
    if (rc == ARGON2_VERIFY_MISMATCH)
        return 0;
    /* Decoding failures, out-of-range parameters, wrong variant: the stored hash is bad. */
    return -1;
}

/* ---- the dummy hash for unknown users --------------------------------------------- */

/* A few parameter sets at most (the configured one, perhaps one from before a reload);
 * entries are copied out under the lock, so replacing one never races a reader. */
#define DUMMY_SLOTS 4
static struct {
    ym_argon2_params prm;
    char encoded[ENCODED_MAX];
    int used;
} g_dummy[DUMMY_SLOTS];
static unsigned g_dummy_next;
static pthread_mutex_t g_dummy_mu = PTHREAD_MUTEX_INITIALIZER;

static int params_equal(const ym_argon2_params *a, const ym_argon2_params *b)
{
    return a->m_kib == b->m_kib && a->t == b->t && a->p == b->p;
}

/* Copies the dummy hash for prm into out, computing it on first use. The hash is
 * computed under the lock so it happens once per parameter set per process.
 * 0 = copied from the cache, 1 = computed just now, -1 = error. */
static int dummy_hash(const ym_argon2_params *prm, char out[ENCODED_MAX])
{
    int rc = 0;
    pthread_mutex_lock(&g_dummy_mu);
    int slot = -1;
    for (int i = 0; i < DUMMY_SLOTS; i++)
        if (g_dummy[i].used && params_equal(&g_dummy[i].prm, prm))
            slot = i;
    if (slot < 0) {
        slot = (int)(g_dummy_next++ % DUMMY_SLOTS);
        g_dummy[slot].used = 0;
        if (ym_password_hash("yimen-dummy-password", prm, g_dummy[slot].encoded, ENCODED_MAX) == 0) {
            g_dummy[slot].prm = *prm;
            g_dummy[slot].used = 1;
            rc = 1;
        } else {
            rc = -1;
        }
    }
    if (rc >= 0)
        memcpy(out, g_dummy[slot].encoded, ENCODED_MAX);
    pthread_mutex_unlock(&g_dummy_mu);
    return rc;
}

/* ---- threadpool jobs ---------------------------------------------------------------- */

typedef struct pw_job {
    uv_work_t req;
    int is_hash;
    char *pw;                 /* copy, wiped after use */
    size_t pwlen;
    char *encoded_in;         /* copy; NULL = verify against the dummy hash */
    ym_argon2_params prm;
    int rc;
    char out[ENCODED_MAX];    /* new hash (hash jobs) */
    ym_password_cb done;
    void *ud;
} pw_job;

static void job_free(pw_job *j)
{
    if (j->pw) {
        OPENSSL_cleanse(j->pw, j->pwlen);
        free(j->pw);
    }
    free(j->encoded_in);
    free(j);
}

static void job_verify_dummy(pw_job *j)
{
    char enc[ENCODED_MAX];
    /* Same work as a real verify; the outcome is discarded because there is no user.
     * Computing the dummy is itself one Argon2 run of these parameters, so the first
     * caller skips the verify and still costs what a wrong password does. */
    if (dummy_hash(&j->prm, enc) == 0)
        (void)ym_password_verify(enc, j->pw);
    j->rc = 0;
}

/* Argon2 is pure CPU: a burst of sign-ins must not starve the event loops that
 * answer everyone else, so the pool threads that hash run at a lower priority. */
static void lower_priority_once(void)
{
    static __thread bool done;
    if (!done) {
        done = true;
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    }
}

static void job_work(uv_work_t *req)
{
    lower_priority_once();
    pw_job *j = req->data;
    if (j->is_hash)
        j->rc = ym_password_hash(j->pw, &j->prm, j->out, sizeof j->out);
    else if (j->encoded_in)
        j->rc = ym_password_verify(j->encoded_in, j->pw);
    else
        job_verify_dummy(j);
    /* The plaintext is not needed past this point; don't leave it on the heap. */
    OPENSSL_cleanse(j->pw, j->pwlen);
}

static void job_after(uv_work_t *req, int status)
{
    pw_job *j = req->data;
    int rc = status == 0 ? j->rc : -1;
    const char *enc = (j->is_hash && rc == 0) ? j->out : NULL;
    j->done(j->ud, rc, enc);
    job_free(j);
}

static int job_submit(uv_loop_t *loop, int is_hash, const char *encoded_in, const char *pw,
                      const ym_argon2_params *prm, ym_password_cb done, void *ud)
{
    if (!loop || !pw || !prm || !done)
        return -1;
    pw_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->is_hash = is_hash;
    j->pwlen = strlen(pw);
    j->pw = strdup(pw);
    j->encoded_in = encoded_in ? strdup(encoded_in) : NULL;
    j->prm = *prm;
    j->done = done;
    j->ud = ud;
    j->req.data = j;
    if (!j->pw || (encoded_in && !j->encoded_in) ||
        uv_queue_work(loop, &j->req, job_work, job_after) != 0) {
        job_free(j);
        return -1;
    }
    return 0;
}

int ym_password_verify_async(uv_loop_t *loop, const char *encoded_in, const char *pw,
                             const ym_argon2_params *prm, ym_password_cb done, void *ud)
{
    return job_submit(loop, 0, encoded_in, pw, prm, done, ud);
}

int ym_password_hash_async(uv_loop_t *loop, const char *pw, const ym_argon2_params *prm,
                           ym_password_cb done, void *ud)
{
    return job_submit(loop, 1, NULL, pw, prm, done, ud);
}

/* ---- common-password list ------------------------------------------------------------ */

/* Sorted, lowercase, deduplicated. Swapped under the lock so a reload never frees a
 * list that a policy check is searching. */
static char **g_common;
static size_t g_ncommon;
static pthread_mutex_t g_common_mu = PTHREAD_MUTEX_INITIALIZER;

static void ascii_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Trims and lowercases one line in place; NULL for a blank line. */
static char *line_entry(char *line)
{
    char *s = line, *e = line + strlen(line);
    while (*s == ' ' || *s == '\t')
        s++;
    while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *e = '\0';
    if (!*s)
        return NULL;
    ascii_lower(s);
    return s;
}

static int strv_push(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    if (!((*v)[*n] = strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

/* Reads the list file into a sorted, deduplicated array. */
static int common_read(FILE *f, char ***out, size_t *outn)
{
    char **v = NULL, *line = NULL, *s;
    size_t n = 0, cap = 0, linecap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &linecap, f) >= 0)
        if ((s = line_entry(line)))
            rc = strv_push(&v, &n, &cap, s);
    free(line);
    if (rc != 0 || ferror(f)) {
        strv_free(v, n);
        return -1;
    }
    if (n)
        qsort(v, n, sizeof *v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && strcmp(v[k - 1], v[i]) == 0)
            free(v[i]);
        else
            v[k++] = v[i];
    }
    *out = v;
    *outn = k;
    return 0;
}

int ym_password_common_load(const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    char **v;
    size_t n;
    int rc = common_read(f, &v, &n);
    fclose(f);
    if (rc != 0)
        return -1;   /* keep the previous list rather than lose the check */
    pthread_mutex_lock(&g_common_mu);
    char **old = g_common;
    size_t oldn = g_ncommon;
    g_common = v;
    g_ncommon = n;
    pthread_mutex_unlock(&g_common_mu);
    strv_free(old, oldn);
    return 0;
}

void ym_password_common_free(void)
{
    pthread_mutex_lock(&g_common_mu);
    char **old = g_common;
    size_t oldn = g_ncommon;
    g_common = NULL;
    g_ncommon = 0;
    pthread_mutex_unlock(&g_common_mu);
    strv_free(old, oldn);
}

/* pw must already be lowercased. With no list loaded nothing is common. */
static int common_contains(const char *lower)
{
    pthread_mutex_lock(&g_common_mu);
    int hit = g_ncommon && bsearch(&lower, g_common, g_ncommon, sizeof *g_common, cmp_str) != NULL;
    pthread_mutex_unlock(&g_common_mu);
    return hit;
}

/* ---- policy -------------------------------------------------------------------------- */

/* Length in code points of valid UTF-8 with no control characters (C0, DEL, C1);
 * -1 for invalid UTF-8, -2 for a control character. */
static long utf8_count(const unsigned char *s)
{
    long n = 0;
    while (*s) {
        unsigned c = *s, need, cp;
        if (c < 0x80) { need = 0; cp = c; }
        else if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; }
        else return -1;
        s++;
        for (unsigned i = 0; i < need; i++, s++) {
            if ((*s & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (*s & 0x3F);
        }
        /* Overlong forms, surrogates and > U+10FFFF are not characters. */
        if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return -1;
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return -2;
        n++;
    }
    return n;
}

static size_t class_count(const char *pw)
{
    int lower = 0, upper = 0, digit = 0, other = 0;
    for (const unsigned char *s = (const unsigned char *)pw; *s; s++) {
        if (*s >= 'a' && *s <= 'z') lower = 1;
        else if (*s >= 'A' && *s <= 'Z') upper = 1;
        else if (*s >= '0' && *s <= '9') digit = 1;
        else other = 1;   /* punctuation, space and every non-ASCII byte */
    }
    return (size_t)(lower + upper + digit + other);
}

/* ASCII case-insensitive substring search; strcasestr depends on the locale. */
static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static int username_check(const char *pw, const char *username, char *why, size_t len)
{
    if (!username || !*username)
        return 0;
    if (strcasecmp(pw, username) == 0) {
        snprintf(why, len, "password must not be the username");
        return -1;
    }
    /* Short names (e.g. "li") occur by chance in good passwords; only refuse longer ones. */
    long ulen = utf8_count((const unsigned char *)username);
    if (ulen >= 4 && contains_nocase(pw, username)) {
        snprintf(why, len, "password must not contain the username");
        return -1;
    }
    return 0;
}

static int common_check(const char *pw, char *why, size_t len)
{
    char lower[PW_MAX_BYTES + 1];
    snprintf(lower, sizeof lower, "%s", pw);
    ascii_lower(lower);
    int hit = common_contains(lower);
    OPENSSL_cleanse(lower, sizeof lower);
    if (hit) {
        snprintf(why, len, "password is too common");
        return -1;
    }
    return 0;
}

/* Byte length, encoding, control characters and the minimum length in characters. */
static int shape_check(const ym_config *cfg, const char *pw, char *why, size_t len)
{
    if (strlen(pw) > PW_MAX_BYTES) {
        snprintf(why, len, "password must be at most %d bytes", PW_MAX_BYTES);
        return -1;
    }
    long n = utf8_count((const unsigned char *)pw);
    if (n == -1) {
        snprintf(why, len, "password must be valid UTF-8");
        return -1;
    }
    if (n == -2) {
        snprintf(why, len, "password must not contain control characters");
        return -1;
    }
    if ((size_t)n < cfg->auth.password.min_length) {
        snprintf(why, len, "password must be at least %zu characters", cfg->auth.password.min_length);
        return -1;
    }
    return 0;
}

int ym_password_policy(const ym_config *cfg, const char *pw, const char *username, char *why, size_t len)
{
    char dummy[1];
    if (!why || !len) {
        why = dummy;
        len = sizeof dummy;
    }
    why[0] = '\0';
    if (!cfg || !pw) {
        snprintf(why, len, "password is required");
        return -1;
    }
    if (shape_check(cfg, pw, why, len) != 0)
        return -1;
    if (class_count(pw) < cfg->auth.password.classes) {
        snprintf(why, len, "password must contain at least %zu of: lowercase letters, uppercase "
                 "letters, digits, other characters", cfg->auth.password.classes);
        return -1;
    }
    if (username_check(pw, username, why, len) != 0)
        return -1;
    return common_check(pw, why, len);
}

/* ---- random tokens and SHA-256 ------------------------------------------------------- */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes (n <= 3) into 2..4 characters; returns the count written. */
static size_t b64url_group(const unsigned char *in, size_t n, char *out)
{
    uint32_t v = (uint32_t)in[0] << 16 | (n > 1 ? (uint32_t)in[1] << 8 : 0) | (n > 2 ? in[2] : 0);
    size_t chars = n + 1;
    for (size_t i = 0; i < chars; i++)
        out[i] = B64URL[(v >> (18 - 6 * i)) & 0x3F];
    return chars;
}

int ym_random_token(char *out, size_t outlen, size_t nbytes)
{
    if (!out || nbytes == 0 || nbytes > SIZE_MAX / 4 || outlen < (nbytes * 4 + 2) / 3 + 1)
        return -1;
    /* Chunks of 48 (a multiple of 3) keep groups whole across chunk boundaries. */
    unsigned char buf[48];
    size_t o = 0;
    for (size_t done = 0; done < nbytes;) {
        size_t take = nbytes - done < sizeof buf ? nbytes - done : sizeof buf;
        if (RAND_bytes(buf, (int)take) != 1) {
            OPENSSL_cleanse(buf, sizeof buf);
            out[0] = '\0';
            return -1;
        }
        for (size_t i = 0; i < take; i += 3)
            o += b64url_group(buf + i, take - i < 3 ? take - i : 3, out + o);
        done += take;
    }
    out[o] = '\0';
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

void ym_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        out[0] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xF];
    }
    out[64] = '\0';
}
