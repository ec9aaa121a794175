/* items_edit: changing a tracked item after creation (title, content, deadline, co-units,
 * leader) and withdrawing it (撤销), with the steps of items_flow.c they share; the
 * routes are PATCH /api/items/:id and POST /api/items/:id/withdraw, plugins reach them
 * through item_act "update" and "withdraw". Not for plugins. */
#ifndef YM_ITEMS_EDIT_H
#define YM_ITEMS_EDIT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "db.h"

/* The fields update changes; any other key of changes is refused. */
#define YM_ITEM_EDIT_KEYS {"title", "content", "deadline", "co_units", "leader", NULL}

/* Inside a write, by the supervising side, on an item neither closed nor withdrawn
 * (YM_ITEM_ESTATE): changes is a JSON object of some of title, content, deadline
 * ("YYYY-MM-DD", not before a node of the plan; nodes due on the old deadline, such as
 * a completion node, move with it), co_units ([unit ids], the whole new
 * list) and leader (string or null). Nothing is written when a field is refused
 * (YM_ITEM_EINVAL "<field>: ..."). A change writes an "updated" timeline row with the
 * old and new values, moves the open to-do's due date, notifies the lead unit and new
 * co-units, and recomputes the colour; an empty object changes nothing. 0, or YM_ITEM_E*. */
int ym_item_update(ym_db *db, int64_t id, int64_t by_user, const json_t *changes, char *err, size_t errlen);
/* Inside a write: any state but closed and withdrawn → withdrawn, with a reason (1 to
 * YM_ITEM_NOTE_MAX characters). Its to-dos are resolved, it leaves the open lists and
 * the colour job; timeline, reports and audit stay. 0, or YM_ITEM_E*. */
int ym_item_withdraw(ym_db *db, int64_t id, int64_t by_user, const char *reason, char *err, size_t errlen);

/* ---------- shared with items_flow.c ---------- */
typedef struct ym__item_row {
    char state[16], source[40], deadline[16];
    int64_t supervisor, lead;
    int deadline_workdays;
} ym__item_row;
/* Loads the item inside a write and checks its state is one of states (NULL: any). */
int ym__item_common(ym_db *db, int64_t id, ym__item_row *it, const char *const *states, char *err, size_t errlen);
/* A state change: the row, the timeline, the event core.items.state, the colour. 0, -1. */
int ym__item_move(ym_db *db, int64_t id, const ym__item_row *it, const char *to, const char *kind, int64_t user,
                  int64_t unit, json_t *detail);
/* Is s a record reference "<table>:<id>" of at most YM_ITEM_RECORD_MAX bytes? */
bool ym__item_record_ok(const char *s);
/* Puts the to-do "item:<id>:<what>" for the clerks of unit titled "<prefix><title>". 0, -1. */
int ym__item_todo_put(ym_db *db, int64_t id, const char *what, int64_t unit, const char *prefix, const char *kind,
                      const char *deadline);
#endif
