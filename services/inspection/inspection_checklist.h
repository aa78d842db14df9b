/* inspection_checklist: the checklist templates an agency's inspections start
 * from, one per category, loaded from a YAML file (config field
 * `checklists`, e.g. deploy/hanoi/checklists.yaml):
 *
 *   templates:
 *     - category: default            # used for a category without its own
 *       items:
 *         - {code: license, text: "Giấy chứng nhận đăng ký kinh doanh"}
 *     - category: food_safety
 *       items: [...]
 *
 * Codes are 1-64 of [A-Za-z0-9._-], unique within a template; texts are
 * UTF-8 (Vietnamese as typed), 1-500 bytes; at most 100 items a template and
 * 100 templates. Every load error names the file's line. No sockets. */
#ifndef INSPECTION_CHECKLIST_H
#define INSPECTION_CHECKLIST_H

#include "cpm_err.h"
#include "field.pb-c.h"

#include <stddef.h>

#define INSPECTION_CHECKLIST_ITEMS_MAX 100
#define INSPECTION_CHECKLIST_TEMPLATES_MAX 100
#define INSPECTION_CHECKLIST_TEXT_MAX 500

typedef struct inspection_checklists inspection_checklists_t;

/* Load path. 0 with *out, or CPM_E_NOT_FOUND / CPM_E_INVALID with err
 * (field "checklists", message "FILE line N: ..."). */
int inspection_checklists_load(const char *path, inspection_checklists_t **out, cpm_error_t *err);
void inspection_checklists_destroy(inspection_checklists_t **p);

/* The items of category's template, else of "default", else none (*n = 0).
 * The items belong to l. */
Cpm__ChecklistItem **inspection_checklist_for(const inspection_checklists_t *l,
                                              const char *category, size_t *n);

#endif
