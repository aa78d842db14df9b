/* exchange_logq: pages of the proof log and evidence. See exchange_logq.h. */
#include "exchange_logq.h"

#include "cpm_log.h"
#include "cpm_registry.h"
#include "cpm_util.h"
#include "cpm_xlog.h"
#include "exchange_checkpoint.h"
#include "exchange_log.h"

#include <stdlib.h>
#include <string.h>

void exchange_logq_free(Cpm__ExchangeLogReply *r)
{
    for (size_t i = 0; i < r->n_records; i++)
        cpm__log_record__free_unpacked(r->records[i], NULL);
    for (size_t i = 0; i < r->n_checkpoints; i++)
        cpm__signed_checkpoint__free_unpacked(r->checkpoints[i], NULL);
    free(r->records);
    free(r->checkpoints);
    free(r->evidence.data);
    r->records = NULL;
    r->checkpoints = NULL;
    r->evidence.data = NULL;
    r->n_records = r->n_checkpoints = 0;
}

/* The agency's own officers, coordinators and node read its log in full and
 * export evidence; coordinators of other agencies (the city) read it as
 * hashes only, enough to verify the chain and checkpoints, since bodies hold
 * signed requests and answers with personal fields; nobody else reads it. */
typedef enum { READ_NONE, READ_HASHES, READ_FULL } reader_t;

static reader_t reader_of(const exchange_t *x, const char *agency, const char *role)
{
    static const char *const staff[] = {"officer", "coordinator", "city", "department", "area"};
    bool own = agency && strcmp(agency, x->node) == 0;
    for (size_t i = 0; own && role && i < sizeof staff / sizeof staff[0]; i++)
        if (strcmp(role, staff[i]) == 0)
            return READ_FULL;
    return role && strcmp(role, "coordinator") == 0 ? READ_HASHES : READ_NONE;
}

/* r without its body: its seq and content hash instead. The body's bytes
 * stay where the unpacker put them (freed with r); only its length goes. */
static int hash_only(Cpm__LogRecord *r, uint64_t seq)
{
    uint8_t *c = malloc(32);
    if (!c)
        return CPM_E_INTERNAL;
    cpm_xlog_content(r->body.data, r->body.len, c);
    r->body.len = 0;
    r->content_hash.data = c;
    r->content_hash.len = 32;
    r->seq = seq;
    return 0;
}

static int add_cp(Cpm__ExchangeLogReply *out, Cpm__SignedCheckpoint *sc, size_t cap)
{
    if (out->n_checkpoints >= cap) {
        cpm__signed_checkpoint__free_unpacked(sc, NULL);
        return 0;
    }
    out->checkpoints[out->n_checkpoints++] = sc;
    return 0;
}

static int evidence(const exchange_t *x, cpm_store_t *st, MDB_txn *txn, const char *registry_path,
                    uint64_t seq, Cpm__ExchangeLogReply *out, cpm_error_t *err)
{
    Cpm__LogRecord *rec = NULL;
    Cpm__SignedCheckpoint *sc = NULL;
    uint64_t cp_seq = 0;
    int rc = exchange_log_get(st, txn, seq, &rec);
    if (rc == CPM_E_NOT_FOUND)
        return cpm_error_set(err, rc, "evidence_seq", "the log has no entry %llu",
                             (unsigned long long)seq);
    if (rc != 0)
        return rc;
    rc = exchange_checkpoint_at_or_after(st, txn, seq, &sc, &cp_seq);
    if (rc == CPM_E_NOT_FOUND) {
        cpm__log_record__free_unpacked(rec, NULL);
        return cpm_error_set(err, CPM_E_CONFLICT, "evidence_seq",
                             "entry %llu is not yet checkpointed: ask again after the next "
                             "checkpoint (within checkpoint_s)",
                             (unsigned long long)seq);
    }
    uint8_t *reg = NULL;
    size_t reg_len = 0;
    size_t nh = rc == 0 ? (size_t)(cp_seq - seq) : 0;
    uint8_t *hashes = NULL;
    ProtobufCBinaryData *hv = NULL;
    if (rc == 0 && nh > EXCHANGE_EVIDENCE_HASHES_MAX)
        rc = cpm_error_set(err, CPM_E_TOO_LARGE, "evidence_seq",
                           "entry %llu is %zu entries before its checkpoint (at most %d)",
                           (unsigned long long)seq, nh, EXCHANGE_EVIDENCE_HASHES_MAX);
    if (rc == 0 && cpm_read_file(registry_path, CPM_REGISTRY_MAX, &reg, &reg_len) != 0)
        rc = cpm_error_set(err, CPM_E_INTERNAL, "registry", "cannot read the registry file");
    if (rc == 0 && (!(hashes = malloc(nh * 32 + 1)) || !(hv = calloc(nh + 1, sizeof *hv))))
        rc = CPM_E_INTERNAL;
    for (size_t i = 0; rc == 0 && i < nh; i++) {
        Cpm__LogRecord *r = NULL;
        rc = exchange_log_get(st, txn, seq + 1 + i, &r);
        if (rc == CPM_E_NOT_FOUND)
            rc = cpm_error_set(err, CPM_E_INTERNAL, "evidence_seq",
                               "the log has no entry %llu (a damaged store)",
                               (unsigned long long)(seq + 1 + i));
        if (rc != 0)
            break;
        cpm_xlog_content(r->body.data, r->body.len, hashes + 32 * i);
        hv[i].data = hashes + 32 * i;
        hv[i].len = 32;
        cpm__log_record__free_unpacked(r, NULL);
    }
    if (rc == 0) {
        Cpm__ExchangeEvidence ev = CPM__EXCHANGE_EVIDENCE__INIT;
        ev.version = 1;
        ev.signed_registry.data = reg;
        ev.signed_registry.len = reg_len;
        ev.record = rec;
        ev.n_next_content_hashes = nh;
        ev.next_content_hashes = hv;
        ev.checkpoint = sc;
        size_t len = cpm__exchange_evidence__get_packed_size(&ev);
        if (len > EXCHANGE_LOGQ_BYTES + (1u << 19)) {
            rc = cpm_error_set(err, CPM_E_TOO_LARGE, "evidence_seq",
                               "the evidence of entry %llu is %zu bytes, over a reply",
                               (unsigned long long)seq, len);
        } else if (!(out->evidence.data = malloc(len ? len : 1))) {
            rc = CPM_E_INTERNAL;
        } else {
            out->evidence.len = cpm__exchange_evidence__pack(&ev, out->evidence.data);
        }
    }
    (void)x;
    free(reg);
    free(hashes);
    free(hv);
    cpm__log_record__free_unpacked(rec, NULL);
    if (sc)
        cpm__signed_checkpoint__free_unpacked(sc, NULL);
    return rc;
}

int exchange_logq(const exchange_t *x, cpm_store_t *st, MDB_txn *txn, const char *registry_path,
                  const char *agency, const char *role, const Cpm__ExchangeLogQuery *q,
                  Cpm__ExchangeLogReply *out, cpm_error_t *err)
{
    reader_t who = reader_of(x, agency, role);
    if (who == READ_NONE || (q->evidence_seq && who != READ_FULL)) {
        exchange_count(x, "exchange.logq_forbidden");
        cpm_warn("exchange: log query refused: agency %.60s role %.30s", agency ? agency : "",
                 role ? role : "");
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender", "%s",
                             who == READ_NONE
                                 ? "only the agency's own officers and coordinators, and "
                                   "coordinators (as hashes), may read its proof log"
                                 : "only the agency's own officers and coordinators export "
                                   "evidence: its entries hold personal data");
    }
    uint64_t head = 0;
    int rc = exchange_log_head(st, txn, &head, NULL);
    if (rc != 0)
        return rc;
    out->head_seq = head;
    if (q->evidence_seq)
        return evidence(x, st, txn, registry_path, q->evidence_seq, out, err);
    uint64_t from = q->from_seq ? q->from_seq : 1;
    size_t max = q->max && q->max < EXCHANGE_LOGQ_MAX ? q->max : EXCHANGE_LOGQ_MAX;
    if (!(out->records = calloc(max, sizeof *out->records)))
        return CPM_E_INTERNAL;
    size_t bytes = 0;
    for (uint64_t s = from; s <= head && out->n_records < max && bytes < EXCHANGE_LOGQ_BYTES; s++) {
        Cpm__LogRecord *r = NULL;
        rc = exchange_log_get(st, txn, s, &r);
        if (rc == CPM_E_NOT_FOUND) /* a gap: the reader's verification names it */
            continue;
        if (rc != 0)
            return rc;
        bytes += r->body.len + 80;
        if (who == READ_HASHES && (rc = hash_only(r, s)) != 0) {
            cpm__log_record__free_unpacked(r, NULL);
            return rc;
        }
        out->records[out->n_records++] = r;
    }
    if (!q->checkpoints || out->n_records == 0)
        return 0;
    /* checkpoints from the page's first record to the first covering its last */
    uint64_t last = from + out->n_records - 1;
    size_t cap = out->n_records + 1;
    if (!(out->checkpoints = calloc(cap, sizeof *out->checkpoints)))
        return CPM_E_INTERNAL;
    uint64_t at = from;
    while (out->n_checkpoints < cap) {
        Cpm__SignedCheckpoint *sc = NULL;
        uint64_t cs = 0;
        rc = exchange_checkpoint_at_or_after(st, txn, at, &sc, &cs);
        if (rc == CPM_E_NOT_FOUND)
            return 0;
        if (rc != 0)
            return rc;
        add_cp(out, sc, cap);
        if (cs >= last)
            return 0;
        at = cs + 1;
    }
    return 0;
}
