/* system: the kernel's own routes (/healthz, /metrics, the test clock) and the
 * entry points of the master and worker processes. */
#ifndef YM_SYSTEM_H
#define YM_SYSTEM_H
#include <stddef.h>
#include "router.h"
#include "config.h"

#define YM_VERSION "0.1.0"

int ym_system_routes(ym_router *rt, char *err, size_t errlen);
void ym_system_set_generation(unsigned gen);

/* master.c: `yimen serve`. cfg_text is the file the config was parsed from. */
int ym_master_run(const char *cfg_path, const char *cfg_text, size_t cfg_len);
/* worker.c: `yimen __worker` (spawned by the master) and `yimen serve --single`. */
int ym_worker_main(int argc, char **argv);
int ym_worker_run_single(const char *cfg_path, const char *cfg_text, size_t cfg_len);
/* Shared start-up for master and single mode: migrate and bootstrap the database. */
int ym_prepare_database(const ym_config *cfg, char *err, size_t errlen);
/* pid file in data_dir: pid of a live master, or 0. */
int ym_pidfile_read(const ym_config *cfg);
int ym_pidfile_write(const ym_config *cfg, char *err, size_t errlen);
void ym_pidfile_remove(const ym_config *cfg);

#endif
