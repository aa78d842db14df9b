/* Fuzz target: one line of `cpmctl submit --file` (ctl_submit_line_parse),
 * then the complaint it gives through intake_validate_complaint, as the
 * client sends it and intake checks it. */
#include "fuzz_env.h"

#include "ctl_submit_line.h"
#include "intake_validate.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1); /* getline gives a NUL-terminated line */
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = 0;
    json_t *obj = NULL;
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    cpm_error_t err = {0};
    if (ctl_submit_line_parse(line, 1, &obj, &c, &err) == 0) {
        intake_validate_complaint(&c, fz_rules(), fz_now_ms(), &err);
        json_decref(obj);
    }
    free(line);
    return 0;
}
