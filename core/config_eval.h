/* config_eval: private to config.c. Runs the text of yimen.conf in an empty Lua sandbox
 * (no libraries, a memory cap and an instruction budget) and hands over its top-level
 * assignments with the line where each starts; config.c validates them. */
#ifndef YM_CONFIG_EVAL_H
#define YM_CONFIG_EVAL_H
#include <stddef.h>
#include <lua.h>

typedef struct ym_conf_key {
    const char *name;            /* anchored in the values table during the callback */
    int line;                    /* where `name =` starts (see statement_line) */
} ym_conf_key;

/* Called once the file has run: still under lua_pcall, so running out of memory is
 * reported rather than fatal, but with the sandbox's memory cap lifted. keys are in line
 * order (ties by name); values is the stack index of the table keyed by name. Returns 0,
 * or -1 with the error already written. */
typedef int (*ym_conf_apply_fn)(void *ud, lua_State *L, int values, const ym_conf_key *keys,
                                size_t n);

/* Evaluates text; file names it in messages ("<file>:<line>: ..."). Returns what apply
 * returned, or -1 with a Lua error (syntax, runtime, limits) in err. */
int ym_conf_eval(const char *text, size_t len, const char *file, char *err, size_t errlen,
                 ym_conf_apply_fn apply, void *ud);

#endif
