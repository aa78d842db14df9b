/* Fuzz target: an agency's checklist templates file
 * (inspection_checklists_load), written to a file first since the loader
 * takes a path; a loaded set is then asked for a few categories' items. */
#include "fuzz_env.h"

#include "inspection_checklist.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    if (fz_write_file("checklists.yaml", data, size, path) != 0)
        fz_die("write", path);
    inspection_checklists_t *l = NULL;
    cpm_error_t err;
    if (inspection_checklists_load(path, &l, &err) != 0) {
        if (l)
            fz_die("checklists", "an error with a checklist set");
        return 0;
    }
    static const char *const cats[] = {"default", "food_safety", "", "no-such-category"};
    for (size_t i = 0; i < sizeof cats / sizeof *cats; i++) {
        size_t n = 0;
        Cpm__ChecklistItem **items = inspection_checklist_for(l, cats[i], &n);
        for (size_t k = 0; k < n; k++)
            if (!items[k] || !items[k]->code || !items[k]->text || strlen(items[k]->code) == 0)
                fz_die("checklists", "an item without code or text");
    }
    inspection_checklists_destroy(&l);
    return 0;
}
