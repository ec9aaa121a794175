/* main: the yimen command line: serve, check-config, reload, backup, restore, version,
 * the admin commands of cli_admin.c (and __worker, which the master runs). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include "system.h"
#include "config.h"
#include "datadir.h"
#include "admin.h"
#include "shared.h"
#include "calendar.h"
#include "log.h"
#include "cli_admin.h"
#include "jobs.h"
#include "clock.h"

typedef struct cli {
    const char *cmd;
    const char *config;   /* -c FILE */
    const char *arg;      /* OUT / IN */
    int single;
    int help;
} cli;

static const struct { const char *name, *usage, *help; } commands[] = {
    {"serve", "serve [-c FILE] [--single]", "run the server in the foreground (master + workers; --single: one process)"},
    {"check-config", "check-config [-c FILE]", "validate the configuration: prints ok, or the first error and exits 1"},
    {"reload", "reload [-c FILE]", "ask the running master to start a new generation with the current config"},
    {"backup", "backup [-c FILE] OUT", "copy the database (consistent, while serving) and attachments into directory OUT"},
    {"restore", "restore [-c FILE] IN", "replace the database and attachments from backup directory IN (server stopped)"},
    {"plugins", "plugins [-c FILE]", "list the plugins found, their state and why one failed (as last recorded)"},
    {"jobs", "jobs [-c FILE]", "list the scheduled jobs: schedule, next and last run, failures (from the database)"},
    {"version", "version", "print the version"},
    {"user", "user VERB [-c FILE] ...", "accounts: add, passwd, disable, enable, unlock, import (yimen user --help)"},
    {"unit", "unit VERB [-c FILE] ...", "units: add, import from CSV (yimen unit --help)"},
    {"audit", "audit verify [-c FILE]", "check the audit log's hash chain"},
    {"demo", "demo [-c FILE] [--seed N]", "load the demo county (573 units, 1,452 staff)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: yimen <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-28s %s\n", commands[i].usage, commands[i].help);
    fprintf(f, "\n-c FILE defaults to <bindir>/../config/yimen.conf when it exists, else built-in defaults.\n");
}

static int command_help(const char *cmd)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, cmd) == 0) {
            printf("usage: yimen %s\n\n%s\n", commands[i].usage, commands[i].help);
            return 0;
        }
    usage(stdout);
    return 0;
}

static int fail(const char *fmt, const char *a)
{
    fprintf(stderr, "yimen: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 1;
}

static int parse_args(int argc, char **argv, cli *c)
{
    c->cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            c->config = argv[++i];
        else if (strcmp(argv[i], "--single") == 0 && strcmp(c->cmd, "serve") == 0)
            c->single = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            c->help = 1;
        else if (argv[i][0] != '-' && !c->arg && (strcmp(c->cmd, "backup") == 0 || strcmp(c->cmd, "restore") == 0))
            c->arg = argv[i];
        else
            return fail("unexpected argument: %s (see yimen --help)", argv[i]);
    }
    return 0;
}

/* The file to use: -c, else the shipped config beside the binary, else none. */
static const char *config_path(const cli *c, char *buf, size_t len)
{
    if (c->config)
        return c->config;
    snprintf(buf, len, "%s/../config/yimen.conf", ym_config_bindir());
    return access(buf, R_OK) == 0 ? buf : NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb)
                abort();
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static int load(const cli *c, ym_config **cfg, char **text, size_t *len, const char **path)
{
    static char buf[PATH_MAX];
    char err[512];
    *path = config_path(c, buf, sizeof buf);
    *text = NULL;
    *len = 0;
    if (*path && !(*text = slurp(*path, len)))
        return fail("cannot read config %s", *path);
    if (!*text && !(*text = strdup("")))
        abort();
    if (ym_config_load_string(*text, *len, *path, cfg, err, sizeof err) < 0) {
        free(*text);
        return fail("%s", err);
    }
    return 0;
}

static int cmd_reload(const ym_config *cfg)
{
    int pid = ym_pidfile_read(cfg);
    if (!pid)
        return fail("no running yimen for data_dir %s", cfg->data_dir);
    if (kill(pid, SIGHUP) < 0)
        return fail("cannot signal the master: %s", strerror(errno));
    printf("reload signalled to master pid %d\n", pid);
    return 0;
}

/* Every connection is a descriptor: take all the kernel allows (workers inherit it). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    ym_config_set_bindir(argv[0]);
    raise_nofile();
    if (argc >= 2 && strcmp(argv[1], "__worker") == 0)
        return ym_worker_main(argc, argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (ym_cli_admin_handles(argv[1]))
        return ym_cli_admin_main(argc, argv);
    cli c = {0};
    if (parse_args(argc, argv, &c))
        return 1;
    if (c.help)
        return command_help(c.cmd);
    if (strcmp(c.cmd, "version") == 0 || strcmp(c.cmd, "--version") == 0) {
        printf("yimen %s\n", YM_VERSION);
        return 0;
    }
    int known = 0;
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        known |= strcmp(commands[i].name, c.cmd) == 0;
    if (!known)
        return fail("unknown command %s (see yimen --help)", c.cmd);
    if ((strcmp(c.cmd, "backup") == 0 || strcmp(c.cmd, "restore") == 0) && !c.arg)
        return fail("%s needs a directory argument", c.cmd);
    ym_log_init(YM_LOG_INFO, "cli", 0);
    ym_config *cfg;
    char *text;
    size_t len;
    const char *path;
    if (load(&c, &cfg, &text, &len, &path))
        return 1;
    char err[512];
    int rc = 0;
    if (strcmp(c.cmd, "serve") != 0 && strcmp(c.cmd, "check-config") != 0) {
        /* a running server's segment: our commits then move the epoch its caches watch */
        char shm[4096];
        snprintf(shm, sizeof shm, "%s/yimen.shm", cfg->data_dir);
        ym_shared_map_file(shm);
    }
    if (strcmp(c.cmd, "check-config") == 0) {
        ym_calendar *cal = ym_calendar_load(cfg->calendar_dir, err, sizeof err);
        if (!cal)
            rc = fail("%s", err);
        else
            printf("ok\n");
        ym_calendar_free(cal);
    } else if (strcmp(c.cmd, "serve") == 0) {
        rc = c.single ? ym_worker_run_single(path, text, len) : ym_master_run(path, text, len);
    } else if (strcmp(c.cmd, "reload") == 0) {
        rc = cmd_reload(cfg);
    } else if (strcmp(c.cmd, "plugins") == 0) {
        rc = ym_admin_plugins_cli(cfg);
    } else if (strcmp(c.cmd, "jobs") == 0) {
        char db[4096];
        snprintf(db, sizeof db, "%s/yimen.db", cfg->data_dir);
        ym_clock_set_timezone(cfg->timezone);
        rc = ym_jobs_cli(db);
    } else if (strcmp(c.cmd, "backup") == 0) {
        rc = ym_backup(cfg, c.arg, err, sizeof err) < 0 ? fail("%s", err) : (printf("backup written to %s\n", c.arg), 0);
    } else if (strcmp(c.cmd, "restore") == 0) {
        rc = ym_restore(cfg, c.arg, err, sizeof err) < 0 ? fail("%s", err) : (printf("restored from %s\n", c.arg), 0);
    }
    ym_config_free(cfg);
    free(text);
    return rc;
}
