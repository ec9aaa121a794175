/* datadir: the run-time state directory: database creation and migration, the
 * master's pid file, and consistent backup and restore of database and files. */
#ifndef YM_DATADIR_H
#define YM_DATADIR_H
#include <stddef.h>
#include "config.h"

int ym_mkdirs(const char *path, unsigned mode);
/* Copies the database (online, consistent) and data_dir/files into out_dir. */
int ym_backup(const ym_config *cfg, const char *out_dir, char *err, size_t errlen);
/* Replaces the database and files from a backup directory; refused while serving. */
int ym_restore(const ym_config *cfg, const char *in_dir, char *err, size_t errlen);

#endif
