/* Fuzz target: the category model's suggestion (cpm_triage_suggest) over
 * arbitrary bytes split into business, product and description (NUL bytes
 * separate them), against a small model trained once from an in-memory
 * corpus; and the model loader (cpm_triage_parse) over the same bytes.
 * Every answer must be an error naming a field or a suggestion within its
 * bounds. */
#include "cpm_triage.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char MODEL[] =
    "{\"format\":\"cpmesh-triage-model\",\"version\":1,\"kind\":\"multinomial_nb\","
    "\"model_id\":\"hanoi-triage-1/0123abcd\",\"alpha_milli\":500,\"scale_milli\":10000,"
    "\"shrink\":0,\"min_known\":3,\"binary\":false,"
    "\"categories\":[{\"slug\":\"food_safety\",\"docs\":10},{\"slug\":\"other\",\"docs\":10},"
    "{\"slug\":\"telecom\",\"docs\":10}],"
    "\"features\":[[\"an\",0,5,1,1],[\"ăn\",0,5],[\"doc\",0,4],[\"độc\",0,4],[\"mang\",2,6],"
    "[\"mạng\",2,6],[\"ngo\",0,4],[\"ngộ\",0,4],[\"ngo doc\",0,4],[\"ngộ độc\",0,4],"
    "[\"hoi\",1,5],[\"hỏi\",1,5],[\"toi\",0,2,1,3,2,2],[\"tôi\",0,2,1,3,2,2],[\"cuoc\",2,4],"
    "[\"cước\",2,4]]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cpm_triage_t *m;
    cpm_error_t err = {0};
    if (!m && !(m = cpm_triage_parse(MODEL, sizeof MODEL - 1, &err))) {
        fprintf(stderr, "fuzz_triage: model: %s\n", err.message);
        abort();
    }
    char *buf = malloc(size + 3);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = 0;
    const char *business = buf;
    const char *product = business + strlen(business) + 1;
    if (product > buf + size)
        product = buf + size;
    const char *description = product + strlen(product) + 1;
    if (description > buf + size)
        description = buf + size;
    cpm_triage_suggestion_t s;
    int rc = cpm_triage_suggest(m, business, product, description, &s, &err);
    if (rc == 0) {
        if (s.pm > 1000 || s.top_pm > 1000 || s.nwhy > CPM_TRIAGE_WHY_MAX ||
            (s.category[0] && strcmp(s.category, s.top) != 0) || (!s.category[0] && s.pm))
            abort();
    } else if (rc != CPM_E_INVALID || !err.field[0]) {
        abort();
    }
    cpm_triage_t *parsed = cpm_triage_parse((const char *)data, size, &err);
    cpm_triage_destroy(&parsed);
    free(buf);
    return 0;
}
