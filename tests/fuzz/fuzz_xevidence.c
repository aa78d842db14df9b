/* Fuzz target: an evidence file as `cpmctl exchange verify-evidence` reads
 * it from anyone (cpm_xevidence_verify, offline, against the vectors' root
 * key). Seeds: tests/vectors/exchange.json's evidence file. */
#include "fuzz_env.h"

#include "cpm_xevidence.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *summary = NULL;
    cpm_xlog_problem_t p;
    if (cpm_xevidence_verify(data, size, fz_root()->sign_pk, &summary, &p) == 0)
        free(summary);
    return 0;
}
