/* cpm_fieldrec: see cpm_fieldrec.h. */
#include "cpm_fieldrec.h"

#include "cpm_pbcheck.h"
#include "cpm_verifier.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cpm_fieldrec_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= CPM_FIELDREC_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static bool code_ok(const char *s, bool may_be_empty)
{
    return (may_be_empty && (!s || !*s)) || cpm_fieldrec_id_valid(s);
}

static bool member_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n < 128 && !strchr(s, '\x1f');
}

int cpm_fieldrec_check(const Cpm__FieldRecord *r, cpm_error_t *err)
{
    if (!cpm_fieldrec_id_valid(r->id))
        return cpm_error_set(err, CPM_E_INVALID, "id", "id must be 1-64 of [A-Za-z0-9._-]");
    if (!member_ok(r->inspection) || strlen(r->inspection) > 127)
        return cpm_error_set(err, CPM_E_INVALID, "inspection",
                             "inspection must be an inspection id (1-127 bytes)");
    if (!member_ok(r->inspector))
        return cpm_error_set(err, CPM_E_INVALID, "inspector", "inspector must be a member id");
    if (r->kind < CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING ||
        r->kind > CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME)
        return cpm_error_set(err, CPM_E_INVALID, "kind", "kind must be finding, submit or outcome");
    if (r->kind == CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING && !code_ok(r->item, false))
        return cpm_error_set(err, CPM_E_INVALID, "item",
                             "a finding names its checklist item (1-64 of [A-Za-z0-9._-])");
    if (!code_ok(r->item, true))
        return cpm_error_set(err, CPM_E_INVALID, "item", "item must be 1-64 of [A-Za-z0-9._-]");
    if (!code_ok(r->violation, true))
        return cpm_error_set(err, CPM_E_INVALID, "violation",
                             "violation must be empty or 1-64 of [A-Za-z0-9._-]");
    if (r->description && strlen(r->description) > CPM_FIELDREC_TEXT_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "description",
                             "description is longer than %d bytes", CPM_FIELDREC_TEXT_MAX);
    if (r->severity > 3)
        return cpm_error_set(err, CPM_E_INVALID, "severity", "severity must be 0..3");
    if (r->fine_vnd < 0)
        return cpm_error_set(err, CPM_E_INVALID, "fine_vnd", "fine_vnd must not be negative");
    if (r->made_ms <= 0)
        return cpm_error_set(err, CPM_E_INVALID, "made_ms", "made_ms must be a UTC time in ms");
    if (r->has_position &&
        (!isfinite(r->lat) || !isfinite(r->lon) || fabs(r->lat) > 90 || fabs(r->lon) > 180))
        return cpm_error_set(err, CPM_E_INVALID, "lat",
                             "position must be lat -90..90, lon -180..180");
    if (r->n_evidence > CPM_FIELDREC_EVIDENCE_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "evidence", "at most %d evidence references",
                             CPM_FIELDREC_EVIDENCE_MAX);
    for (size_t i = 0; i < r->n_evidence; i++) {
        const Cpm__EvidenceRef *e = r->evidence[i];
        if (e->blake2b.len != CPM_FIELDREC_HASH_LEN)
            return cpm_error_set(err, CPM_E_INVALID, "evidence.blake2b",
                                 "evidence %zu: blake2b must be 32 bytes", i);
        if (e->size < 1 || e->size > (64ull << 20))
            return cpm_error_set(err, CPM_E_INVALID, "evidence.size",
                                 "evidence %zu: size must be 1..67108864 bytes", i);
        if ((e->name && (strlen(e->name) > 255 || strchr(e->name, '/'))) ||
            (e->media_type && strlen(e->media_type) > 127))
            return cpm_error_set(err, CPM_E_INVALID, "evidence.name",
                                 "evidence %zu: name (no '/', <= 255 bytes) or media type too long",
                                 i);
    }
    if (r->kind == CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME &&
        r->outcome == CPM__OUTCOME__OUTCOME_UNSPECIFIED)
        return cpm_error_set(err, CPM_E_INVALID, "outcome", "an outcome record names its outcome");
    return 0;
}

void cpm_fieldrec_hash(const uint8_t *payload, size_t len, uint8_t hash[CPM_FIELDREC_HASH_LEN])
{
    crypto_generichash(hash, CPM_FIELDREC_HASH_LEN, payload, len, NULL, 0);
}

int cpm_fieldrec_seal(cpm_sender_t *s, const char *recipient, const Cpm__FieldRecord *r,
                      uint8_t **frame, size_t *len, cpm_error_t *err)
{
    int rc = cpm_fieldrec_check(r, err);
    if (rc != 0)
        return rc;
    if (strcmp(r->inspector, s->id->id) != 0)
        return cpm_error_set(err, CPM_E_INVALID, "inspector", "inspector %s is not the signer %s",
                             r->inspector, s->id->id);
    if (cpm_sender_seal(s, CPM__MSG_TYPE__MSG_FIELD_RECORD, recipient, NULL, &r->base, NULL, frame,
                        len) != 0)
        return cpm_error_set(err, CPM_E_INTERNAL, "record", "sealing the record failed");
    return 0;
}

void cpm_fieldrec_clear(cpm_fieldrec_t *f)
{
    if (f->rec)
        cpm__field_record__free_unpacked(f->rec, NULL);
    memset(f, 0, sizeof *f);
}

static void copy_slice(char *out, size_t n, cpm_slice_t s)
{
    size_t k = s.len < n - 1 ? s.len : n - 1;
    memcpy(out, s.data, k);
    out[k] = 0;
}

/* The envelope's fields from its bytes envb, then the payload. */
static int parse_envelope(const uint8_t *envb, size_t envlen, cpm_fieldrec_t *out, cpm_error_t *err)
{
    cpm_envelope_view_t v;
    if (cpm_envelope_parse_view(envb, envlen, &v) != 0)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record",
                             "the record's envelope is malformed");
    if (v.type != CPM__MSG_TYPE__MSG_FIELD_RECORD)
        return cpm_error_set(err, CPM_E_INVALID, "type", "the frame is not a field_record");
    if (v.sender.len >= sizeof out->sender || v.key_id.len >= sizeof out->key_id)
        return cpm_error_set(err, CPM_E_INVALID, "sender", "sender or key id too long");
    copy_slice(out->sender, sizeof out->sender, v.sender);
    copy_slice(out->key_id, sizeof out->key_id, v.key_id);
    cpm_fieldrec_hash(v.payload.data, v.payload.len, out->hash);
    out->rec =
        cpm__field_record__unpack(cpm_pb_budget(v.payload.len), v.payload.len, v.payload.data);
    if (!out->rec)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "the record does not decode");
    /* decoded with the budget allocator, which takes its memory from malloc */
    int rc = cpm_pbcheck(&out->rec->base, NULL, err);
    if (rc == 0)
        rc = cpm_fieldrec_check(out->rec, err);
    if (rc == 0 && strcmp(out->rec->inspector, out->sender) != 0)
        rc = cpm_error_set(err, CPM_E_FORBIDDEN, "inspector", "inspector %s is not the signer %s",
                           out->rec->inspector, out->sender);
    return rc;
}

int cpm_fieldrec_parse(const uint8_t *frame, size_t len, cpm_fieldrec_t *out, cpm_error_t *err)
{
    memset(out, 0, sizeof *out);
    cpm_slice_t envb, sig;
    if (len > CPM_MAX_MSG || cpm_envelope_parse_signed(frame, len, &envb, &sig) != 0)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "not a signed envelope");
    int rc = parse_envelope(envb.data, envb.len, out, err);
    if (rc != 0)
        cpm_fieldrec_clear(out);
    return rc;
}

int cpm_fieldrec_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                        cpm_fieldrec_t *out, cpm_error_t *err)
{
    memset(out, 0, sizeof *out);
    cpm_slice_t envb;
    const Cpm__Member *m = NULL;
    cpm_verdict_t v = cpm_verify_signed(reg, frame, len, &envb, &m);
    if (v != CPM_V_OK)
        return cpm_error_set(err, v == CPM_V_MALFORMED ? CPM_E_BAD_MESSAGE : CPM_E_FORBIDDEN,
                             "signature", "the record does not verify: %s", cpm_verdict_name(v));
    int rc = parse_envelope(envb.data, envb.len, out, err);
    if (rc != 0) {
        cpm_fieldrec_clear(out);
        return rc;
    }
    out->signer = m;
    return 0;
}
