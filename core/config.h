/* config: parse yimen.conf (Lua syntax, evaluated in an empty sandbox under an
 * instruction and memory cap), validate every key, resolve paths, diff for reload. */
#ifndef YM_CONFIG_H
#define YM_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <jansson.h>

#define YM_MAX_LISTEN 8

typedef struct ym_listen_addr {
    char host[64];   /* "127.0.0.1", "::1", "0.0.0.0" */
    int port;
} ym_listen_addr;

typedef struct ym_strlist {
    char **v;
    size_t n;
} ym_strlist;

typedef struct ym_config {
    char *path;             /* absolute path of the file, or NULL for built-in defaults */
    char *dir;              /* directory relative paths resolve against */
    ym_listen_addr listen[YM_MAX_LISTEN];
    size_t nlisten;
    int workers;            /* default: number of cores */
    char *data_dir;         /* absolute */
    int log_level;          /* ym_log_level */
    char *timezone;         /* "Asia/Shanghai" */
    char *www_root;         /* absolute; default <bindir>/../core/www */
    char *calendar_dir;     /* absolute; default <bindir>/../config/calendar */
    struct {
        size_t uri;          /* 8 KiB -> 414 */
        size_t headers;      /* total header bytes, 16 KiB -> 431 */
        size_t header_count; /* 100 -> 431 */
        size_t body;         /* 8 MiB -> 413 */
        size_t connections;  /* per worker, 10000 */
        size_t json_depth;   /* 64 */
        size_t write_buffer; /* per-connection high-water mark before reads pause, 1 MiB */
    } limits;
    struct {                 /* all in milliseconds */
        uint64_t header;     /* 10 s: from first byte of a request to end of headers */
        uint64_t body;       /* 30 s: max gap between body bytes */
        uint64_t idle;       /* 75 s: keep-alive between requests */
        uint64_t drain;      /* 30 s: old generation's grace on reload/stop */
    } timeouts;
    struct {
        char *synchronous;   /* "full" (default), "normal", "off" */
        int busy_timeout_ms; /* 5000 */
    } database;
    ym_strlist trusted_proxies;  /* addresses or CIDRs */
    char *public_url;            /* NULL = derived from listen */
    struct {
        bool loopback_only;      /* true */
    } metrics;
    ym_strlist plugin_paths;     /* absolute; default <bindir>/plugins, <bindir>/../lua */
    ym_strlist plugins;          /* enabled plugin names, in order */
    json_t *plugin_settings;     /* object: plugin name -> its settings table as JSON */
    struct {
        uint64_t idle_timeout;       /* ms, 30 min: a session unused this long ends */
        uint64_t absolute_timeout;   /* ms, 12 h: a session ends this long after login */
        struct {
            size_t attempts;         /* 5 failed logins ... */
            uint64_t window;         /* ms, 30 min: ... within this window ... */
            uint64_t duration;       /* ms, 30 min: ... lock the account this long */
        } lockout;
        struct {
            size_t per_ip;           /* 20 login attempts per minute per client address */
            size_t per_account;      /* 10 login attempts per minute per username */
        } rate_limit;
        struct {
            size_t memory;           /* bytes, 19 MiB (OWASP); tests lower it */
            size_t iterations;       /* 2 */
            size_t parallelism;      /* 1 */
        } argon2;
        struct {
            size_t min_length;       /* 12 characters */
            size_t classes;          /* 0..4 character classes required (lower, upper, digit, other); 0 */
            uint64_t max_age;        /* ms; 0 = passwords never expire (rotation off) */
            char *common_list;       /* absolute; default <bindir>/../config/common-passwords.txt */
        } password;
        ym_strlist totp_roles;       /* role keys that must use a second factor; empty */
        char *audit_hash;            /* "sm3" (default) or "sha256" */
        char *issuer;                /* TOTP issuer shown in authenticator apps, "yimen" */
    } auth;
    struct {
        uint64_t heartbeat;          /* ms, 25 s: a comment line on idle event streams */
        uint64_t keep;               /* ms, 365 days: read notifications are deleted after this */
        json_t *channels;            /* object: channel name -> {type, url, template, ...} */
    } notify;
    struct {                         /* tracked items (items.c checks them) */
        json_t *colours;             /* [{from, blue_within, red_after}] by effective date */
        json_t *lag_categories;      /* [name] */
        json_t *auto_urge;           /* [colour]: reaching it urges the lead unit */
        json_t *remind_days;         /* [working days] before each due date, or NULL: {3, 1} */
    } items;
} ym_config;

/* Parse and validate. path NULL = built-in defaults only. On error returns -1 and
 * writes one line to err: "<file>:<line>: <key.path>: <problem>". */
int ym_config_load_file(const char *path, ym_config **out, char *err, size_t errlen);
/* Same, from text already in memory; path is used for messages and relative paths. */
int ym_config_load_string(const char *text, size_t len, const char *path, ym_config **out,
                          char *err, size_t errlen);
void ym_config_free(ym_config *c);

/* Settings that need a new generation of workers to change vs those that cannot change
 * without a restart (listen addresses, data_dir): returns 0 if b can replace a by a
 * reload, else -1 with the reason in err. */
int ym_config_reloadable(const ym_config *a, const ym_config *b, char *err, size_t errlen);

/* "8MiB", "512k", 1024 -> bytes; "30m", "1.5s", "250ms", 10 -> milliseconds. */
int ym_parse_size(const char *s, size_t *out);
int ym_parse_duration(const char *s, uint64_t *out_ms);
/* The decimal digits at s into *n: past them, or NULL (none, or overflow). */
const char *ym_parse_digits(const char *s, uint64_t *n);

/* Directory holding the running binary (from /proc/self/exe); set once at start. */
void ym_config_set_bindir(const char *argv0);
const char *ym_config_bindir(void);
/* base + rel as an absolute path, the existing prefix through realpath, the rest cleaned
 * of "." and ".." (malloc'ed; NULL when too long); path cut to its directory in place. */
char *ym_path_resolve(const char *base, const char *rel);
void ym_path_dirname(char *path);

#endif
