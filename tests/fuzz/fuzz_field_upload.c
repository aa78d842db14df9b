/* Fuzz target: an inspector's FieldUpload as the agency's inspection service
 * handles it (inspection_field_upload: each record frame verified against
 * the registry, then parsed, checked and stored) on a store holding
 * assigned inspection FF_I1, in a transaction aborted after each input.
 *
 * The first byte picks how the rest is used, so that most inputs get past
 * the signature to the record parser and the storage logic:
 *   0  a FieldUpload (raw frames, as sent)
 *   1  one record frame, as is
 *   2  a FieldRecord payload (any bytes) sealed as MSG_FIELD_RECORD by a
 *      fixture inspector (bits 2-3: inspector1/2, another agency's, revoked)
 *   3  a FieldRecord decoded, its inspection and inspector made FF_I1 and
 *      the signer (unless bit 4), sealed and uploaded three times in one
 *      batch: as is, again (same), and with another description (conflict)
 * The asker is the signer (mode 2, 3) or inspector1/2 (bit 2). */
#include "fuzz_field.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void upload(const char *asker, ProtobufCBinaryData *frames, size_t n)
{
    cpm_store_t *st = ff_store();
    cpm_effects_t fx = fz_effects(st, FF_NODE "/inspection");
    Cpm__FieldUpload up = CPM__FIELD_UPLOAD__INIT;
    up.records = frames;
    up.n_records = n;
    Cpm__FieldUploadReply rep = CPM__FIELD_UPLOAD_REPLY__INIT;
    cpm_error_t err = {0};
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, true, &txn) != 0)
        fz_die("begin", "store");
    if (inspection_field_upload(ff_field(), st, txn, &fx, asker, &up, fz_now_ms(), &rep, &err) == 0)
        inspection_field_upload_free(&rep);
    cpm_store_abort(&txn);
}

static const char *signer(unsigned k)
{
    return fx_id[(unsigned[]){FX_INS1, FX_INS2, FX_OTHER, FX_REVOKED}[k & 3]].id;
}

static void sealed_record(unsigned mode, const uint8_t *data, size_t size)
{
    unsigned k = (mode >> 2) & 3;
    Cpm__FieldRecord *r = cpm__field_record__unpack(NULL, size, data);
    if (!r)
        return;
    char *inspection = r->inspection, *inspector = r->inspector, *desc = r->description;
    if (!(mode & 16)) {
        r->inspection = FF_I1;
        r->inspector = (char *)signer(k);
    }
    ProtobufCBinaryData f[3] = {{0, NULL}, {0, NULL}, {0, NULL}};
    if (cpm_sender_seal(ff_sender(k), CPM__MSG_TYPE__MSG_FIELD_RECORD, FF_NODE "/inspection", NULL,
                        &r->base, NULL, &f[0].data, &f[0].len) == 0) {
        r->description = "another version";
        if (cpm_sender_seal(ff_sender(k), CPM__MSG_TYPE__MSG_FIELD_RECORD, FF_NODE "/inspection",
                            NULL, &r->base, NULL, &f[2].data, &f[2].len) == 0) {
            f[1] = f[0];
            upload(signer(k), f, 3);
        }
    }
    free(f[0].data);
    free(f[2].data);
    r->inspection = inspection, r->inspector = inspector, r->description = desc;
    cpm__field_record__free_unpacked(r, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++, size--;
    const char *asker = (mode & 4) ? FF_INS2 : FF_INS1;
    switch (mode & 3) {
    case 0: {
        Cpm__FieldUpload *up = cpm__field_upload__unpack(NULL, size, data);
        if (up) {
            upload(asker, up->records, up->n_records);
            cpm__field_upload__free_unpacked(up, NULL);
        }
        break;
    }
    case 1: {
        ProtobufCBinaryData f = {size, (uint8_t *)data};
        upload(asker, &f, 1);
        break;
    }
    case 2: {
        unsigned k = (mode >> 2) & 3;
        ProtobufCBinaryData f = {0, NULL};
        if (cpm_sender_seal_raw(ff_sender(k), CPM__MSG_TYPE__MSG_FIELD_RECORD,
                                FF_NODE "/inspection", NULL, data, size, NULL, &f.data,
                                &f.len) == 0)
            upload(signer(k), &f, 1);
        free(f.data);
        break;
    }
    default:
        sealed_record(mode, data, size);
    }
    return 0;
}
