/* cpm_fieldrec: sealing, verifying, field checks, content identity, and a
 * tampered frame. */
#include "cpm_fieldrec.h"
#include "field_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static cpm_registry_t *reg;

static int setup(void **state)
{
    (void)state;
    reg = fx_registry();
    return reg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cpm_registry_destroy(&reg);
    return 0;
}

static void finding(Cpm__FieldRecord *r, const char *inspector)
{
    cpm__field_record__init(r);
    r->id = "f-0001";
    r->inspection = "hn.d.x/I1";
    r->inspector = (char *)inspector;
    r->kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING;
    r->item = "price-posted";
    r->violation = "ND98-art62";
    r->description = "Không niêm yết giá";
    r->severity = 2;
    r->fine_vnd = 5000000;
    r->made_ms = 1767225600000;
}

static void test_seal_verify_roundtrip(void **state)
{
    (void)state;
    cpm_sender_t s;
    cpm_sender_init(&s, &fx_id[FX_INS1], "device");
    Cpm__FieldRecord r;
    finding(&r, "inspector1.hn.d.x");
    uint8_t *frame = NULL;
    size_t len = 0;
    cpm_error_t e = {0};
    assert_int_equal(cpm_fieldrec_seal(&s, "hn.d.x/inspection", &r, &frame, &len, &e), 0);
    cpm_fieldrec_t f;
    assert_int_equal(cpm_fieldrec_verify(reg, frame, len, &f, &e), 0);
    assert_string_equal(f.rec->id, "f-0001");
    assert_string_equal(f.signer->id, "inspector1.hn.d.x");
    assert_string_equal(f.rec->description, "Không niêm yết giá");
    uint8_t h1[32];
    memcpy(h1, f.hash, 32);
    cpm_fieldrec_clear(&f);
    /* the same record sealed again: another envelope (seq, msg id), but the
     * same payload, so the same content identity */
    uint8_t *frame2 = NULL;
    size_t len2 = 0;
    assert_int_equal(cpm_fieldrec_seal(&s, "hn.d.x/inspection", &r, &frame2, &len2, &e), 0);
    assert_int_equal(cpm_fieldrec_parse(frame2, len2, &f, &e), 0);
    assert_memory_equal(f.hash, h1, 32);
    cpm_fieldrec_clear(&f);
    free(frame2);
    /* other content: another identity */
    r.fine_vnd = 6000000;
    assert_int_equal(cpm_fieldrec_seal(&s, "hn.d.x/inspection", &r, &frame2, &len2, &e), 0);
    assert_int_equal(cpm_fieldrec_parse(frame2, len2, &f, &e), 0);
    assert_memory_not_equal(f.hash, h1, 32);
    cpm_fieldrec_clear(&f);
    free(frame2);
    free(frame);
}

static void test_tampered_frame_refused(void **state)
{
    (void)state;
    cpm_sender_t s;
    cpm_sender_init(&s, &fx_id[FX_INS1], "device");
    Cpm__FieldRecord r;
    finding(&r, "inspector1.hn.d.x");
    uint8_t *frame = NULL;
    size_t len = 0;
    cpm_error_t e = {0};
    assert_int_equal(cpm_fieldrec_seal(&s, "hn.d.x/inspection", &r, &frame, &len, &e), 0);
    /* change one byte of the fine inside the signed payload */
    uint8_t *p = memmem(frame, len, "price-posted", 12);
    assert_non_null(p);
    p[0] = 'P';
    cpm_fieldrec_t f;
    assert_int_equal(cpm_fieldrec_verify(reg, frame, len, &f, &e), CPM_E_FORBIDDEN);
    assert_string_equal(e.field, "signature");
    assert_null(f.rec);
    /* parse alone (the device's own store) does not check the signature */
    assert_int_equal(cpm_fieldrec_parse(frame, len, &f, &e), 0);
    cpm_fieldrec_clear(&f);
    /* garbage */
    assert_int_equal(cpm_fieldrec_verify(reg, (const uint8_t *)"\x0a\x01", 2, &f, &e),
                     CPM_E_BAD_MESSAGE);
    free(frame);
}

static void test_revoked_and_unknown_signer(void **state)
{
    (void)state;
    cpm_sender_t s;
    cpm_sender_init(&s, &fx_id[FX_REVOKED], "device");
    Cpm__FieldRecord r;
    finding(&r, "inspector9.hn.d.x");
    uint8_t *frame = NULL;
    size_t len = 0;
    cpm_error_t e = {0};
    assert_int_equal(cpm_fieldrec_seal(&s, "hn.d.x/inspection", &r, &frame, &len, &e), 0);
    cpm_fieldrec_t f;
    assert_int_equal(cpm_fieldrec_verify(reg, frame, len, &f, &e), CPM_E_FORBIDDEN);
    assert_non_null(strstr(e.message, "revoked"));
    free(frame);
}

static void test_inspector_must_be_signer(void **state)
{
    (void)state;
    cpm_sender_t s;
    cpm_sender_init(&s, &fx_id[FX_INS1], "device");
    Cpm__FieldRecord r;
    finding(&r, "inspector2.hn.d.x");
    uint8_t *frame = NULL;
    size_t len = 0;
    cpm_error_t e = {0};
    assert_int_equal(cpm_fieldrec_seal(&s, "hn.d.x/inspection", &r, &frame, &len, &e),
                     CPM_E_INVALID);
    assert_string_equal(e.field, "inspector");
    /* sealed by hand around the check: the verifier refuses it */
    assert_int_equal(cpm_sender_seal(&s, CPM__MSG_TYPE__MSG_FIELD_RECORD, "hn.d.x/inspection", NULL,
                                     &r.base, NULL, &frame, &len),
                     0);
    cpm_fieldrec_t f;
    assert_int_equal(cpm_fieldrec_verify(reg, frame, len, &f, &e), CPM_E_FORBIDDEN);
    assert_string_equal(e.field, "inspector");
    free(frame);
    /* another message type signed by the inspector is not a record */
    assert_int_equal(cpm_sender_seal(&s, CPM__MSG_TYPE__MSG_FIELD_UPLOAD, "hn.d.x/inspection", NULL,
                                     NULL, NULL, &frame, &len),
                     0);
    assert_int_equal(cpm_fieldrec_verify(reg, frame, len, &f, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "type");
    free(frame);
}

static void expect_field(Cpm__FieldRecord *r, const char *field)
{
    cpm_error_t e = {0};
    assert_int_not_equal(cpm_fieldrec_check(r, &e), 0);
    assert_string_equal(e.field, field);
}

static void test_field_checks(void **state)
{
    (void)state;
    Cpm__FieldRecord r;
    cpm_error_t e;
    finding(&r, "inspector1.hn.d.x");
    assert_int_equal(cpm_fieldrec_check(&r, &e), 0);
    r.id = "has space";
    expect_field(&r, "id");
    r.id = "";
    expect_field(&r, "id");
    r.id = "x12345678901234567890123456789012345678901234567890123456789012345";
    expect_field(&r, "id");
    finding(&r, "inspector1.hn.d.x");
    r.severity = 4;
    expect_field(&r, "severity");
    finding(&r, "inspector1.hn.d.x");
    r.fine_vnd = -1;
    expect_field(&r, "fine_vnd");
    finding(&r, "inspector1.hn.d.x");
    r.kind = 9;
    expect_field(&r, "kind");
    finding(&r, "inspector1.hn.d.x");
    r.item = "";
    expect_field(&r, "item");
    finding(&r, "inspector1.hn.d.x");
    r.has_position = true;
    r.lat = 91;
    expect_field(&r, "lat");
    finding(&r, "inspector1.hn.d.x");
    static char big[CPM_FIELDREC_TEXT_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    r.description = big;
    expect_field(&r, "description");
    finding(&r, "inspector1.hn.d.x");
    Cpm__EvidenceRef ev = CPM__EVIDENCE_REF__INIT, *evs[1] = {&ev};
    uint8_t h[31] = {0};
    ev.blake2b.data = h;
    ev.blake2b.len = 31;
    ev.size = 10;
    r.evidence = evs;
    r.n_evidence = 1;
    expect_field(&r, "evidence.blake2b");
    ev.blake2b.len = 32;
    ev.size = 0;
    expect_field(&r, "evidence.size");
    ev.size = 10;
    r.n_evidence = 33;
    expect_field(&r, "evidence");
    finding(&r, "inspector1.hn.d.x");
    r.kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME;
    expect_field(&r, "outcome");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_verify_roundtrip),
        cmocka_unit_test(test_tampered_frame_refused),
        cmocka_unit_test(test_revoked_and_unknown_signer),
        cmocka_unit_test(test_inspector_must_be_signer),
        cmocka_unit_test(test_field_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
