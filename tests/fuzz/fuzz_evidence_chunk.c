/* Fuzz target: an EvidenceChunk as the agency's inspection service handles
 * it (inspection_field_chunk: the hash must be named by a stored record of
 * the sender, with that size; bytes appended at offset == received; the
 * whole file hashed on its last byte) with an evidence folder emptied before
 * each input, in a store transaction aborted after each input.
 *
 * The first byte steers; the rest is the EvidenceChunk:
 *   bit 0  the harness makes the chunk whole and right: hash := BLAKE2b of
 *          its data, size := offset + data length (offset 0 unless bit 3),
 *          so the complete-and-rename path is reached
 *   bit 1  the asker is inspector2 (the record is inspector1's: refused)
 *   bit 2  no record names the hash (refused)
 *   bit 3  the first half of the data is sent first as its own chunk at
 *          offset 0, then the rest at the half (a resumed upload)
 * Unless bit 2, a record of inspector1 naming (hash, size) is uploaded in
 * the same transaction first. */
#include "fuzz_field.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void name_evidence(cpm_store_t *st, MDB_txn *txn, const Cpm__EvidenceChunk *c)
{
    Cpm__EvidenceRef ref = CPM__EVIDENCE_REF__INIT, *refs[1] = {&ref};
    ref.blake2b = c->blake2b;
    ref.size = c->size;
    ref.name = "photo.jpg";
    ref.media_type = "image/jpeg";
    Cpm__FieldRecord r;
    ff_record(&r, "e1", FF_INS1);
    r.evidence = refs;
    r.n_evidence = 1;
    ProtobufCBinaryData b = {0, NULL};
    if (ff_seal(0, &r, &b) != 0)
        return; /* the hash or size is out of bounds: the chunk meets no record */
    cpm_effects_t fx = fz_effects(st, FF_NODE "/inspection");
    Cpm__FieldUpload up = CPM__FIELD_UPLOAD__INIT;
    up.records = &b;
    up.n_records = 1;
    Cpm__FieldUploadReply rep = CPM__FIELD_UPLOAD_REPLY__INIT;
    cpm_error_t err = {0};
    if (inspection_field_upload(ff_field(), st, txn, &fx, FF_INS1, &up, fz_now_ms(), &rep, &err) ==
        0)
        inspection_field_upload_free(&rep);
    free(b.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    Cpm__EvidenceChunk *c = cpm__evidence_chunk__unpack(NULL, size - 1, data + 1);
    if (!c)
        return 0;
    cpm_store_t *st = ff_store();
    ff_evidence(true);
    uint8_t hash[32];
    ProtobufCBinaryData orig = c->blake2b;
    uint64_t half = (mode & 8) ? c->data.len / 2 : 0;
    if (mode & 1) {
        crypto_generichash(hash, 32, c->data.data, c->data.len, NULL, 0);
        c->blake2b.data = hash;
        c->blake2b.len = 32;
        c->offset = 0;
        c->size = c->data.len;
    }
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, true, &txn) != 0)
        fz_die("begin", "store");
    if (!(mode & 4))
        name_evidence(st, txn, c);
    const char *asker = (mode & 2) ? FF_INS2 : FF_INS1;
    Cpm__EvidenceStatus out = CPM__EVIDENCE_STATUS__INIT;
    cpm_error_t err = {0};
    if (half) {
        Cpm__EvidenceChunk first = *c;
        first.data.len = half;
        (void)inspection_field_chunk(ff_field(), st, txn, asker, &first, &out, &err);
        c->offset += half;
        c->data.data += half;
        c->data.len -= half;
    }
    (void)inspection_field_chunk(ff_field(), st, txn, asker, c, &out, &err);
    if (half) {
        c->data.data -= half;
        c->data.len += half;
    }
    cpm_store_abort(&txn);
    c->blake2b = orig;
    cpm__evidence_chunk__free_unpacked(c, NULL);
    return 0;
}
