/* Fuzz target: an agency's signed access policy as the exchange loads it
 * (cpm_xpolicy_open) and decides with it (cpm_xpolicy_decide, redact).
 *
 * Input byte 0 chooses the form:
 *   even: the rest is the SignedPolicy file as it is on disk, opened for
 *         FZ_CITY against the vectors' registry (mostly a bad signature).
 *   odd:  the rest is a serialized ExchangePolicy, validly signed here by
 *         FZ_CITY's key, so the fuzzer reaches the decoder and the checks.
 * A policy that opens is asked about every dataset by several requesters,
 * with and without a purpose and wanted fields, and a record is redacted. */
#include "fuzz_env.h"

#include "cpm_xpolicy.h"
#include "cpm_xpolicy_doc.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ask(const Cpm__ExchangePolicy *p)
{
    static const char *const who[][2] = {{"hn.qltt", "department"},
                                         {"hn.doit", "coordinator"},
                                         {"hn.d.hoan-kiem", "officer"},
                                         {FZ_CITY, "officer"}};
    static const char *const purposes[] = {"", "product recall follow-up"};
    static const char *const wanted[] = {"business", "reporter_phone", "count", "nothing"};
    size_t n;
    const cpm_xdataset_t *d = cpm_xschema_all(&n);
    for (size_t i = 0; i < n; i++)
        for (size_t w = 0; w < 4; w++)
            for (size_t k = 0; k < 2; k++) {
                cpm_xgrant_t g;
                cpm_xpolicy_decide(p, FZ_CITY, &d[i], who[w][0], who[w][1], purposes[k], wanted + w,
                                   w % 2, &g);
                if (!g.allowed)
                    continue;
                Cpm__DataField f = CPM__DATA_FIELD__INIT;
                Cpm__DataField *fs[] = {&f};
                f.name = (char *)d[i].fields[0].name;
                f.value = "x";
                Cpm__DataRecord r = CPM__DATA_RECORD__INIT, out;
                r.fields = fs;
                r.n_fields = 1;
                if (cpm_xpolicy_redact(&g, &d[i], &r, &out) == 0)
                    free(out.fields);
                char buf[256];
                (void)cpm_xpolicy_withheld(&g, &d[i], buf, sizeof buf);
            }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *signed_buf = NULL;
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    if (data[0] % 2 == 1) {
        Cpm__ExchangePolicy *doc = cpm__exchange_policy__unpack(NULL, size - 1, data + 1);
        if (!doc)
            return 0;
        int rc = cpm_xpolicy_sign(doc, fz_identity(FZ_CITY)->sign_sk, &signed_buf, &len);
        cpm__exchange_policy__free_unpacked(doc, NULL);
        if (rc != 0)
            return 0;
        buf = signed_buf;
    }
    Cpm__ExchangePolicy *p = NULL;
    cpm_error_t err = {0};
    if (cpm_xpolicy_open(buf, len, fz_registry(), FZ_CITY, &p, &err) == 0) {
        ask(p);
        cpm__exchange_policy__free_unpacked(p, NULL);
    }
    free(signed_buf);
    return 0;
}
