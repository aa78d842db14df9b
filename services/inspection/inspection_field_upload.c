/* inspection_field_upload: field records and evidence chunks arriving from
 * inspectors' devices (see inspection_field.h). Idempotent by content: a
 * record id seen with the same content hash is SAME, with another hash a
 * CONFLICT kept beside the first; nothing is ever overwritten. */
#include "inspection_field.h"

#include "cpm_fieldrec.h"
#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void count(const inspection_field_t *f, const char *counter)
{
    if (f->count)
        f->count(f->ctx, counter);
}

static void refused(const inspection_field_t *f, const char *counter, const char *who,
                    const cpm_error_t *e)
{
    static cpm_ratelimit_t lim = CPM_RATELIMIT_INIT(20, 60000);
    uint64_t dropped = 0;
    count(f, counter);
    if (cpm_ratelimit_allow(&lim, cpm_mono_ms(), &dropped))
        cpm_warn("field sync from %s refused (%s): %s: %s%s", who, counter, e->field, e->message,
                 cpm_ratelimit_note(dropped));
}

static int emit(const cpm_effects_t *fx, MDB_txn *txn, const Cpm__Inspection *in, const char *kind,
                const char *actor, const char *note)
{
    if (!fx || !fx->event)
        return 0;
    cpm_event_t ev = {.kind = kind,
                      .ticket = in->n_tickets ? in->tickets[0] : "",
                      .area = in->area,
                      .category = in->category,
                      .rule = "",
                      .actor = actor,
                      .note = note};
    return fx->event(fx->ctx, txn, &ev);
}

/* One upload's working state. */
typedef struct {
    const inspection_field_t *f;
    cpm_store_t *st;
    MDB_txn *txn;
    const cpm_effects_t *fx;
    const char *asker;
    int64_t now_ms;
} upload_t;

/* Name each evidence of rec for asker (so its chunks are accepted) and list
 * the hashes the folder does not hold whole yet. */
static int note_evidence(const upload_t *u, const Cpm__FieldRecord *rec,
                         Cpm__FieldRecordResult *res)
{
    for (size_t i = 0; i < rec->n_evidence; i++) {
        const Cpm__EvidenceRef *e = rec->evidence[i];
        char hex[65], key[256], val[24];
        cpm_evidence_hex(e->blake2b.data, hex);
        int klen = snprintf(key, sizeof key, "%s\x1f%s", hex, u->asker);
        int vlen = snprintf(val, sizeof val, "%" PRIu64, e->size);
        int rc = cpm_store_put(u->st, u->txn, INSPECTION_EVIDENCE_DB, key, (size_t)klen, val,
                               (size_t)vlen);
        if (rc != 0)
            return rc;
        uint64_t received = 0;
        bool complete = false;
        rc = cpm_evidence_status_as(u->f->evidence, e->blake2b.data, u->asker, &received, &complete,
                                    NULL);
        if (rc != 0)
            return rc;
        if (complete)
            continue;
        bool listed = false;
        for (size_t k = 0; k < res->n_missing_evidence; k++)
            listed |= !memcmp(res->missing_evidence[k].data, e->blake2b.data, 32);
        if (listed)
            continue;
        ProtobufCBinaryData *g =
            realloc(res->missing_evidence, (res->n_missing_evidence + 1) * sizeof *g);
        if (!g)
            return CPM_E_INTERNAL;
        res->missing_evidence = g;
        g[res->n_missing_evidence].data = malloc(32);
        if (!g[res->n_missing_evidence].data)
            return CPM_E_INTERNAL;
        memcpy(g[res->n_missing_evidence].data, e->blake2b.data, 32);
        g[res->n_missing_evidence++].len = 32;
    }
    return 0;
}

/* Does another inspector's OUTCOME record of in propose something else? */
static int outcome_disagrees(const upload_t *u, const Cpm__FieldRecord *rec, bool *disagree)
{
    *disagree = false;
    char prefix[160];
    int plen = snprintf(prefix, sizeof prefix, "%s\x1f", rec->inspection);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(u->txn, cpm_store_dbi(u->st, INSPECTION_FIELD_RECORDS_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_val k = {(size_t)plen, prefix}, v;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         r == 0 && k.mv_size >= (size_t)plen && !memcmp(k.mv_data, prefix, (size_t)plen);
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Cpm__FieldStored *s = cpm__field_stored__unpack(NULL, v.mv_size, v.mv_data);
        if (!s)
            continue;
        const Cpm__FieldRecord *o = s->record;
        if (o && o->kind == CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME &&
            strcmp(o->inspector, rec->inspector) != 0 &&
            (o->outcome != rec->outcome || o->fine_vnd != rec->fine_vnd))
            *disagree = true;
        cpm__field_stored__free_unpacked(s, NULL);
    }
    mdb_cursor_close(cur);
    return 0;
}

/* The refusal of a record past the inspection's bound. */
static int full(const Cpm__Inspection *in, cpm_error_t *e)
{
    return cpm_error_set(e, CPM_E_TOO_LARGE, "inspection",
                         "inspection %s already holds %d field records: no more are kept", in->id,
                         INSPECTION_FIELD_MAX_PER_INSPECTION);
}

/* How many later versions of the record at key field_conflicts holds (keys
 * "<key>\x1f<hex hash>"); stops counting at the bound. */
static int count_versions(const upload_t *u, const char *key, size_t *n)
{
    char prefix[220];
    int plen = snprintf(prefix, sizeof prefix, "%s\x1f", key);
    *n = 0;
    if (plen < 0 || (size_t)plen >= sizeof prefix)
        return CPM_E_INVALID;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(u->txn, cpm_store_dbi(u->st, INSPECTION_FIELD_CONFLICTS_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_val k = {(size_t)plen, prefix}, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; r == 0 && *n < INSPECTION_FIELD_MAX_VERSIONS && k.mv_size >= (size_t)plen &&
           !memcmp(k.mv_data, prefix, (size_t)plen);
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        (*n)++;
    mdb_cursor_close(cur);
    return r == 0 || r == MDB_NOTFOUND ? 0 : cpm_store_err(r);
}

/* A new record: stored, the inspection updated, an event. */
static int store_new(const upload_t *u, const ProtobufCBinaryData *frame, const cpm_fieldrec_t *fr,
                     Cpm__Inspection *in, const char *key)
{
    const Cpm__FieldRecord *rec = fr->rec;
    Cpm__FieldStored s = CPM__FIELD_STORED__INIT;
    s.frame = *frame;
    s.content_hash.data = (uint8_t *)fr->hash;
    s.content_hash.len = 32;
    s.received_ms = u->now_ms;
    s.record = (Cpm__FieldRecord *)rec;
    bool disagree = false;
    int rc = 0;
    if (rec->kind == CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME)
        rc = outcome_disagrees(u, rec, &disagree);
    if (rc == 0)
        rc = cpm_store_put_msg(u->st, u->txn, INSPECTION_FIELD_RECORDS_DB, key, &s.base);
    if (rc != 0)
        return rc;
    char note[200];
    snprintf(note, sizeof note, "inspection=%s record=%s", in->id, rec->id);
    const char *kind = NULL;
    if (rec->kind == CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING) {
        in->findings++;
        kind = "inspection.finding";
    } else if (rec->kind == CPM__FIELD_RECORD_KIND__FIELD_RECORD_SUBMIT && in->lead &&
               !strcmp(in->lead, rec->inspector) &&
               (in->state == CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED ||
                in->state == CPM__INSPECTION_STATE__INSPECTION_STATE_IN_FIELD)) {
        in->state = CPM__INSPECTION_STATE__INSPECTION_STATE_FINDINGS_SUBMITTED;
        kind = "inspection.submitted";
    } else if (disagree) {
        in->outcome_conflict = true;
        in->conflicts++;
        kind = "inspection.conflict";
        snprintf(note, sizeof note, "inspection=%s record=%s outcomes disagree", in->id, rec->id);
    }
    in->records++;
    in->updated_ms = u->now_ms;
    rc = inspection_plan_put(u->st, u->txn, in, NULL);
    if (rc == 0 && kind)
        rc = emit(u->fx, u->txn, in, kind, rec->inspector, note);
    return rc;
}

/* The same id once more: the same content is a no-op, other content a
 * conflict kept beside the first version. */
static int store_again(const upload_t *u, const ProtobufCBinaryData *frame,
                       const cpm_fieldrec_t *fr, const Cpm__FieldStored *first, Cpm__Inspection *in,
                       const char *key, Cpm__FieldVerdict *verdict, cpm_error_t *e)
{
    if (first->content_hash.len == 32 && !memcmp(first->content_hash.data, fr->hash, 32)) {
        *verdict = CPM__FIELD_VERDICT__FIELD_VERDICT_SAME;
        return 0;
    }
    *verdict = CPM__FIELD_VERDICT__FIELD_VERDICT_CONFLICT;
    char hex[65], ckey[400];
    cpm_evidence_hex(fr->hash, hex);
    snprintf(ckey, sizeof ckey, "%s\x1f%s", key, hex);
    const void *val;
    size_t vlen;
    int rc = cpm_store_get(u->st, u->txn, INSPECTION_FIELD_CONFLICTS_DB, ckey, strlen(ckey), &val,
                           &vlen);
    if (rc == 0)
        return 0; /* this version was kept before: still a conflict, nothing new */
    if (rc != CPM_E_NOT_FOUND)
        return rc;
    size_t versions = 0;
    rc = count_versions(u, key, &versions);
    if (rc != 0)
        return rc;
    if (versions >= INSPECTION_FIELD_MAX_VERSIONS) {
        *verdict = CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED;
        return cpm_error_set(e, CPM_E_TOO_LARGE, "id",
                             "record %s already has %d conflicting versions: no more are kept",
                             fr->rec->id, INSPECTION_FIELD_MAX_VERSIONS);
    }
    if (in->records >= INSPECTION_FIELD_MAX_PER_INSPECTION) {
        *verdict = CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED;
        return full(in, e);
    }
    Cpm__FieldStored s = CPM__FIELD_STORED__INIT;
    s.frame = *frame;
    s.content_hash.data = (uint8_t *)fr->hash;
    s.content_hash.len = 32;
    s.received_ms = u->now_ms;
    s.record = fr->rec;
    rc = cpm_store_put_msg(u->st, u->txn, INSPECTION_FIELD_CONFLICTS_DB, ckey, &s.base);
    if (rc != 0)
        return rc;
    in->conflicts++;
    in->records++;
    in->updated_ms = u->now_ms;
    rc = inspection_plan_put(u->st, u->txn, in, NULL);
    char note[200];
    snprintf(note, sizeof note, "inspection=%s record=%s second version kept", in->id, fr->rec->id);
    return rc ? rc : emit(u->fx, u->txn, in, "inspection.conflict", fr->rec->inspector, note);
}

/* One record: a refusal fills res (0 returned); only a store error fails. */
static int one_record(const upload_t *u, const ProtobufCBinaryData *frame,
                      Cpm__FieldRecordResult *res)
{
    const inspection_field_t *f = u->f;
    cpm_error_t e = {0};
    cpm_fieldrec_t fr;
    int code = cpm_fieldrec_verify(f->reg, frame->data, frame->len, &fr, &e);
    Cpm__Inspection *in = NULL;
    Cpm__FieldStored *first = NULL;
    int rc = 0;
    if (code == 0) {
        res->id = strdup(fr.rec->id);
        if (strcmp(fr.sender, u->asker) != 0)
            code = cpm_error_set(&e, CPM_E_FORBIDDEN, "inspector",
                                 "the record is signed by %s, not by the uploader %s", fr.sender,
                                 u->asker);
        else if (!fr.signer->role || strcmp(fr.signer->role, "inspector") != 0 ||
                 !fr.signer->agency || strcmp(fr.signer->agency, f->node) != 0)
            code = cpm_error_set(&e, CPM_E_FORBIDDEN, "inspector", "%s is not an inspector of %s",
                                 fr.sender, f->node);
        else if (!(in = inspection_plan_get(u->st, u->txn, fr.rec->inspection)))
            code = cpm_error_set(&e, CPM_E_NOT_FOUND, "inspection", "no inspection %s here",
                                 fr.rec->inspection);
        else if (!inspection_plan_has_inspector(in, fr.sender))
            code = cpm_error_set(&e, CPM_E_FORBIDDEN, "inspection",
                                 "%s is neither lead nor team of %s", fr.sender, in->id);
    }
    char key[200];
    if (code == 0) {
        snprintf(key, sizeof key, "%s\x1f%s", fr.rec->inspection, fr.rec->id);
        ProtobufCMessage *m = NULL;
        rc = cpm_store_get_msg(u->st, u->txn, INSPECTION_FIELD_RECORDS_DB, key,
                               &cpm__field_stored__descriptor, &m);
        first = (Cpm__FieldStored *)m;
        if (rc == CPM_E_NOT_FOUND)
            rc = 0;
        if (rc == 0 && !first && in->state >= CPM__INSPECTION_STATE__INSPECTION_STATE_REVIEWED)
            code = cpm_error_set(&e, CPM_E_CONFLICT, "inspection",
                                 "%s was reviewed: new records are not taken", in->id);
    }
    if (rc == 0 && code == 0 && !first && in->records >= INSPECTION_FIELD_MAX_PER_INSPECTION)
        code = full(in, &e);
    Cpm__FieldVerdict verdict = CPM__FIELD_VERDICT__FIELD_VERDICT_STORED;
    if (rc == 0 && code == 0 && first) {
        rc = store_again(u, frame, &fr, first, in, key, &verdict, &e);
        if (rc == CPM_E_TOO_LARGE && verdict == CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED)
            code = rc, rc = 0; /* a bound, not a store error */
    }
    if (rc == 0 && code == 0) {
        if (!first)
            rc = store_new(u, frame, &fr, in, key);
        if (rc == 0)
            rc = note_evidence(u, fr.rec, res);
        res->verdict = verdict;
        count(f, verdict == CPM__FIELD_VERDICT__FIELD_VERDICT_STORED ? "field.record_stored"
                 : verdict == CPM__FIELD_VERDICT__FIELD_VERDICT_SAME ? "field.record_same"
                                                                     : "field.record_conflict");
    } else if (rc == 0) {
        res->verdict = CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED;
        res->code = (uint32_t)code;
        res->field = strdup(e.field);
        res->message = strdup(e.message);
        refused(f, "field.record_refused", u->asker, &e);
    }
    if (first)
        cpm__field_stored__free_unpacked(first, NULL);
    if (in)
        cpm__inspection__free_unpacked(in, NULL);
    cpm_fieldrec_clear(&fr);
    return rc;
}

int inspection_field_upload(const inspection_field_t *f, cpm_store_t *st, MDB_txn *txn,
                            const cpm_effects_t *fx, const char *asker, const Cpm__FieldUpload *up,
                            int64_t now_ms, Cpm__FieldUploadReply *out, cpm_error_t *err)
{
    cpm__field_upload_reply__init(out);
    size_t total = 0;
    for (size_t i = 0; i < up->n_records; i++)
        total += up->records[i].len;
    cpm_error_t e = {0};
    if (up->n_records == 0 || up->n_records > INSPECTION_FIELD_MAX_RECORDS)
        cpm_error_set(&e, CPM_E_INVALID, "records", "an upload holds 1..%d records",
                      INSPECTION_FIELD_MAX_RECORDS);
    else if (total > INSPECTION_FIELD_MAX_UPLOAD)
        cpm_error_set(&e, CPM_E_TOO_LARGE, "records", "an upload holds at most %u bytes of records",
                      INSPECTION_FIELD_MAX_UPLOAD);
    if (e.code) {
        refused(f, "field.upload_refused", asker, &e);
        return cpm_error_set(err, e.code, e.field, "%s", e.message);
    }
    out->results = calloc(up->n_records, sizeof *out->results);
    if (!out->results)
        return cpm_error_set(err, CPM_E_INTERNAL, "memory", "out of memory");
    upload_t u = {f, st, txn, fx, asker, now_ms};
    for (size_t i = 0; i < up->n_records; i++) {
        Cpm__FieldRecordResult *res = calloc(1, sizeof *res);
        if (!res) {
            inspection_field_upload_free(out);
            return cpm_error_set(err, CPM_E_INTERNAL, "memory", "out of memory");
        }
        cpm__field_record_result__init(res);
        out->results[out->n_results++] = res;
        int rc = one_record(&u, &up->records[i], res);
        if (rc != 0) {
            inspection_field_upload_free(out);
            return cpm_error_set(err, rc, "store", "record %zu: %s", i, cpm_err_name(rc));
        }
    }
    count(f, "field.upload");
    return 0;
}

void inspection_field_upload_free(Cpm__FieldUploadReply *out)
{
    for (size_t i = 0; i < out->n_results; i++) {
        Cpm__FieldRecordResult *r = out->results[i];
        if (r->id != protobuf_c_empty_string)
            free(r->id);
        if (r->field != protobuf_c_empty_string)
            free(r->field);
        if (r->message != protobuf_c_empty_string)
            free(r->message);
        for (size_t k = 0; k < r->n_missing_evidence; k++)
            free(r->missing_evidence[k].data);
        free(r->missing_evidence);
        free(r);
    }
    free(out->results);
    cpm__field_upload_reply__init(out);
}

int inspection_field_chunk(const inspection_field_t *f, cpm_store_t *st, MDB_txn *txn,
                           const char *asker, const Cpm__EvidenceChunk *c, Cpm__EvidenceStatus *out,
                           cpm_error_t *err)
{
    cpm__evidence_status__init(out);
    cpm_error_t e = {0};
    int code = 0;
    if (c->blake2b.len != 32)
        code = cpm_error_set(&e, CPM_E_INVALID, "blake2b", "blake2b must be 32 bytes");
    char key[256], hex[65];
    const void *val = NULL;
    size_t vlen = 0;
    if (!code) {
        cpm_evidence_hex(c->blake2b.data, hex);
        int klen = snprintf(key, sizeof key, "%s\x1f%s", hex, asker);
        int rc = cpm_store_get(st, txn, INSPECTION_EVIDENCE_DB, key, (size_t)klen, &val, &vlen);
        if (rc != 0 && rc != CPM_E_NOT_FOUND)
            return cpm_error_set(err, rc, "store", "%s", cpm_err_name(rc));
        char sz[24] = "";
        if (rc == 0 && vlen < sizeof sz)
            memcpy(sz, val, vlen);
        if (rc != 0)
            code = cpm_error_set(&e, CPM_E_FORBIDDEN, "blake2b",
                                 "no record of %s names evidence %s", asker, hex);
        else if (strtoull(sz, NULL, 10) != c->size)
            code = cpm_error_set(&e, CPM_E_INVALID, "size",
                                 "evidence %s was declared with %s bytes, not %" PRIu64, hex, sz,
                                 c->size);
    }
    uint64_t received = 0;
    bool complete = false;
    if (!code) {
        code = cpm_evidence_append_as(f->evidence, c->blake2b.data, asker, c->size, c->offset,
                                      c->data.data, c->data.len, &received, &complete, &e);
        if (!code && c->data.len && c->offset + c->data.len != received && !complete)
            count(f, "field.evidence_offset_mismatch");
        else if (!code && c->data.len && c->offset + c->data.len == received)
            count(f, "field.evidence_chunk");
        if (!code && complete && c->data.len && c->offset + c->data.len == c->size)
            count(f, "field.evidence_complete");
    }
    if (code) {
        refused(f,
                !strcmp(e.field, "blake2b") && code == CPM_E_INVALID ? "field.evidence_bad_hash"
                                                                     : "field.evidence_refused",
                asker, &e);
        return cpm_error_set(err, code, e.field, "%s", e.message);
    }
    out->blake2b = c->blake2b;
    out->received = received;
    out->complete = complete;
    return 0;
}
