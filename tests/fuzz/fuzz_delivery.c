/* Fuzz target: a DeliveryBatch as a receiver applies it: decode, the stream
 * check of the server loop, then cpm_delivery_apply (high-water mark,
 * duplicates, gaps, a nested transaction and a dead letter per bad record)
 * with the record decoder and domain function the stream's receiver uses:
 *   hn.d.hoan-kiem/intake>hn.doit/routing          Complaint  -> routing
 *   hn.d.hoan-kiem/inspection>hn.doit/routing      CaseUpdate -> routing
 *   hn.doit/routing>hn.d.hoan-kiem/inspection      Assignment -> inspection
 * Any other stream is refused, as the server refuses it. On real stores that
 * hold case FZ_TICKET, in a transaction aborted after each input. */
#include "fuzz_env.h"

#include "cpm_delivery.h"
#include "cpm_stream.h"
#include "inspection_domain.h"
#include "routing_domain.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    cpm_store_t *st;
    cpm_effects_t fx;
} apply_ctx_t;

static int apply_complaint(void *ctx, MDB_txn *txn, const uint8_t *rec, size_t len,
                           cpm_error_t *err)
{
    apply_ctx_t *a = ctx;
    Cpm__Complaint *c = cpm__complaint__unpack(NULL, len, rec);
    if (!c)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "record is not a Complaint");
    int rc = routing_apply_complaint(fz_rules(), fz_registry(), a->st, txn, &a->fx, FZ_AREA, c,
                                     fz_now_ms(), err);
    cpm__complaint__free_unpacked(c, NULL);
    return rc;
}

static int apply_update(void *ctx, MDB_txn *txn, const uint8_t *rec, size_t len, cpm_error_t *err)
{
    apply_ctx_t *a = ctx;
    Cpm__CaseUpdate *u = cpm__case_update__unpack(NULL, len, rec);
    if (!u)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "record is not a CaseUpdate");
    int rc = routing_apply_update(fz_rules(), fz_registry(), a->st, txn, &a->fx, FZ_AREA, u, err);
    cpm__case_update__free_unpacked(u, NULL);
    return rc;
}

static int apply_assignment(void *ctx, MDB_txn *txn, const uint8_t *rec, size_t len,
                            cpm_error_t *err)
{
    apply_ctx_t *a = ctx;
    Cpm__Assignment *as = cpm__assignment__unpack(NULL, len, rec);
    if (!as)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "record is not an Assignment");
    inspection_t in = {.node = FZ_AREA, .routing = FZ_CITY};
    int rc = inspection_apply_assignment(&in, a->st, txn, &a->fx, as, fz_now_ms(), err);
    cpm__assignment__free_unpacked(as, NULL);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Cpm__DeliveryBatch *b = cpm__delivery_batch__unpack(NULL, size, data);
    if (!b)
        return 0;
    cpm_record_fn fn = NULL;
    apply_ctx_t ctx;
    if (!strcmp(b->stream, FZ_AREA "/intake>" FZ_CITY "/routing")) {
        fn = apply_complaint;
        ctx.st = fz_routing_store();
        ctx.fx = fz_effects(ctx.st, FZ_CITY "/routing");
    } else if (!strcmp(b->stream, FZ_AREA "/inspection>" FZ_CITY "/routing")) {
        fn = apply_update;
        ctx.st = fz_routing_store();
        ctx.fx = fz_effects(ctx.st, FZ_CITY "/routing");
    } else if (!strcmp(b->stream, FZ_CITY "/routing>" FZ_AREA "/inspection")) {
        fn = apply_assignment;
        ctx.st = fz_inspection_store();
        ctx.fx = fz_effects(ctx.st, FZ_AREA "/inspection");
    }
    char mark[CPM_STREAM_MARK_MAX];
    if (fn && cpm_stream_mark(b->stream, b->epoch, mark, sizeof mark) == 0) {
        const uint8_t **recs = calloc(b->n_records + 1, sizeof *recs);
        size_t *lens = calloc(b->n_records + 1, sizeof *lens);
        MDB_txn *txn = NULL;
        if (recs && lens && cpm_store_begin(ctx.st, true, &txn) == 0) {
            for (size_t i = 0; i < b->n_records; i++) {
                recs[i] = b->records[i].data;
                lens[i] = b->records[i].len;
            }
            cpm_delivery_result_t res;
            /* Whatever the input: 0 or one of the library's codes. */
            int rc = cpm_delivery_apply(ctx.st, txn, mark, b->first_seq, recs, lens, b->n_records,
                                        fn, &ctx, &res);
            if (strcmp(cpm_err_name(rc), "unknown") == 0)
                abort();
            cpm_store_abort(&txn);
        }
        free(recs);
        free(lens);
    }
    cpm__delivery_batch__free_unpacked(b, NULL);
    return 0;
}
