/* Tests of cpm_pbcheck (unknown fields, limits, UTF-8, field paths), of its
 * allocation-free wire reader, and of cpm_ratelimit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_pbcheck.h"
#include "cpm_text.h"
#include "cpm_ratelimit.h"
#include "cpmesh.pb-c.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A valid complaint, packed, with extra bytes appended (unknown fields). */
static uint8_t *complaint_plus(const uint8_t *extra, size_t elen, size_t *len)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.channel = "hotline";
    c.business_name = "Shop";
    size_t n = cpm__complaint__get_packed_size(&c);
    uint8_t *buf = malloc(n + elen);
    assert_non_null(buf);
    cpm__complaint__pack(&c, buf);
    if (elen)
        memcpy(buf + n, extra, elen);
    *len = n + elen;
    return buf;
}

static void test_known_fields_pass(void **state)
{
    size_t len;
    uint8_t *buf = complaint_plus(NULL, 0, &len);
    Cpm__Complaint *c = cpm__complaint__unpack(NULL, len, buf);
    assert_non_null(c);
    cpm_error_t e = {0};
    assert_int_equal(cpm_pbcheck(&c->base, NULL, &e), 0);
    cpm__complaint__free_unpacked(c, NULL);
    free(buf);
}

static void test_unknown_field_is_named(void **state)
{
    /* field 99, length-delimited, 3 bytes: what protobuf-c would keep and
     * pack again */
    const uint8_t extra[] = {0x9a, 0x06, 0x03, 'x', 'y', 'z'};
    size_t len;
    uint8_t *buf = complaint_plus(extra, sizeof extra, &len);
    Cpm__Complaint *c = cpm__complaint__unpack(NULL, len, buf);
    assert_non_null(c);
    assert_int_equal(c->base.n_unknown_fields, 1);
    cpm_error_t e = {0};
    assert_int_equal(cpm_pbcheck(&c->base, NULL, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "#99");
    assert_non_null(strstr(e.message, "unknown fields are refused"));
    /* cpm_pbcheck_or_free frees the message on failure */
    assert_int_equal(cpm_pbcheck_or_free(&c->base, &e), CPM_E_INVALID);
    free(buf);
}

static void test_nested_unknown_field_has_a_path(void **state)
{
    const uint8_t extra[] = {0xa0, 0x06, 0x01}; /* field 100, varint 1 */
    size_t clen;
    uint8_t *cbuf = complaint_plus(extra, sizeof extra, &clen);
    /* Assignment{complaint = <that>}: field 1, length-delimited */
    uint8_t *abuf = malloc(clen + 3);
    abuf[0] = 0x0a;
    abuf[1] = (uint8_t)clen;
    assert_true(clen < 128);
    memcpy(abuf + 2, cbuf, clen);
    Cpm__Assignment *a = cpm__assignment__unpack(NULL, clen + 2, abuf);
    assert_non_null(a);
    cpm_error_t e = {0};
    assert_int_equal(cpm_pbcheck(&a->base, NULL, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "complaint.#100");
    cpm__assignment__free_unpacked(a, NULL);
    free(abuf);
    free(cbuf);
}

static void test_limits(void **state)
{
    cpm_pb_limits_t lim = {.max_repeated = 2, .max_string = 5, .max_bytes = 3, .max_depth = 4};
    cpm_error_t e = {0};
    /* a string over its limit */
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = "DOIT-1";
    assert_int_equal(cpm_pbcheck(&u.base, &lim, &e), CPM_E_TOO_LARGE);
    assert_string_equal(e.field, "ticket");
    /* invalid UTF-8, named */
    u.ticket = "ab";
    u.note = "\xc3\x28";
    assert_int_equal(cpm_pbcheck(&u.base, &lim, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "note");
    u.note = "ok";
    assert_int_equal(cpm_pbcheck(&u.base, &lim, &e), 0);
    /* repeated bytes: count and length */
    ProtobufCBinaryData recs[3] = {{1, (uint8_t *)"a"}, {4, (uint8_t *)"abcd"}, {0, NULL}};
    Cpm__DeliveryBatch b = CPM__DELIVERY_BATCH__INIT;
    b.stream = "s";
    b.records = recs;
    b.n_records = 3;
    assert_int_equal(cpm_pbcheck(&b.base, &lim, &e), CPM_E_TOO_LARGE);
    assert_string_equal(e.field, "records");
    b.n_records = 2;
    assert_int_equal(cpm_pbcheck(&b.base, &lim, &e), CPM_E_TOO_LARGE);
    assert_string_equal(e.field, "records[1]");
    b.n_records = 1;
    assert_int_equal(cpm_pbcheck(&b.base, &lim, &e), 0);
    /* a string inside a repeated message */
    Cpm__Event ev = CPM__EVENT__INIT, *evs[1] = {&ev};
    ev.kind = "\xff";
    Cpm__EventBatch eb = CPM__EVENT_BATCH__INIT;
    eb.events = evs;
    eb.n_events = 1;
    assert_int_equal(cpm_pbcheck(&eb.base, &lim, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "events[0].kind");
    /* nesting deeper than allowed */
    lim.max_depth = 0;
    ev.kind = "k";
    assert_int_equal(cpm_pbcheck(&eb.base, &lim, &e), CPM_E_INVALID);
    assert_int_equal(cpm_pbcheck(NULL, NULL, &e), CPM_E_INVALID);
}

static void test_utf8(void **state)
{
    assert_true(cpm_text_utf8_valid("", 0));
    assert_true(cpm_text_utf8_valid("Nguy\xe1\xbb\x85n", 8));
    assert_false(cpm_text_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(cpm_text_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(cpm_text_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(cpm_text_utf8_valid("\xe1\xbb", 2));         /* truncated */
}

static void test_wire_reader(void **state)
{
    const uint8_t good[] = {0x08, 0x96, 0x01, 0x12, 0x02, 'h', 'i', 0x1d, 1, 2, 3,
                            4,    0x21, 1,    2,    3,    4,   5,   6,    7, 8};
    const uint8_t *p = good, *end = good + sizeof good;
    cpm_pb_field_t f;
    assert_int_equal(cpm_pb_next(&p, end, &f), 1);
    assert_int_equal(f.number, 1);
    assert_int_equal(f.wire_type, 0);
    assert_int_equal(f.value, 150);
    assert_int_equal(cpm_pb_next(&p, end, &f), 1);
    assert_int_equal(f.number, 2);
    assert_int_equal(f.len, 2);
    assert_memory_equal(f.data, "hi", 2);
    assert_int_equal(cpm_pb_next(&p, end, &f), 1);
    assert_int_equal(f.wire_type, 5);
    assert_int_equal(f.value, 0x04030201);
    assert_int_equal(cpm_pb_next(&p, end, &f), 1);
    assert_int_equal(f.wire_type, 1);
    assert_int_equal(cpm_pb_next(&p, end, &f), 0);

    size_t n;
    assert_int_equal(cpm_pb_count_fields(good, sizeof good, 10, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(cpm_pb_count_fields(good, sizeof good, 3, &n), -1);
    assert_int_equal(cpm_pb_count_fields(NULL, 0, 3, &n), 0);
    assert_int_equal(n, 0);

    const uint8_t *bad[] = {
        (const uint8_t *)"\x12\x05hi",   /* length past the end */
        (const uint8_t *)"\x00\x01",     /* field number 0 */
        (const uint8_t *)"\x0b\x0c",     /* a group */
        (const uint8_t *)"\x0f",         /* wire type 7 */
        (const uint8_t *)"\x08\xff\xff", /* truncated varint */
    };
    const size_t bad_len[] = {4, 2, 2, 1, 3};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = bad[i];
        assert_int_equal(cpm_pb_next(&p, bad[i] + bad_len[i], &f), -1);
    }
    uint8_t long_varint[12];
    memset(long_varint, 0xff, sizeof long_varint);
    long_varint[0] = 0x08;
    p = long_varint;
    assert_int_equal(cpm_pb_next(&p, long_varint + sizeof long_varint, &f), -1);
}

/* The lever of the hardening review, after the signature: a payload made of
 * 2-byte unknown fields. Decoded with the default allocator it costs tens of
 * times its size; with the budget the decoder gives up and frees. */
static void test_budget_refuses_a_payload_of_tiny_fields(void **state)
{
    (void)state;
    size_t len = 1u << 20;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i += 2) {
        buf[i] = 0x78; /* field 15, varint: unknown to StatusQuery */
        buf[i + 1] = 0x00;
    }
    Cpm__StatusQuery *q = cpm__status_query__unpack(NULL, len, buf);
    assert_non_null(q); /* what the services did before */
    assert_int_equal(q->base.n_unknown_fields, len / 2);
    cpm__status_query__free_unpacked(q, NULL);
    assert_null(cpm__status_query__unpack(cpm_pb_budget(len), len, buf));

    /* A message of known fields of any size decodes within its budget. */
    Cpm__DeliveryBatch b = CPM__DELIVERY_BATCH__INIT;
    static uint8_t rec[512];
    ProtobufCBinaryData recs[4096];
    for (size_t i = 0; i < 4096; i++)
        recs[i] = (ProtobufCBinaryData){sizeof rec, rec};
    b.stream = "hn.d.hoan-kiem/intake>hn.doit/routing";
    b.records = recs;
    b.n_records = 4096;
    size_t blen = cpm__delivery_batch__get_packed_size(&b);
    uint8_t *packed = malloc(blen);
    assert_non_null(packed);
    cpm__delivery_batch__pack(&b, packed);
    Cpm__DeliveryBatch *d = cpm__delivery_batch__unpack(cpm_pb_budget(blen), blen, packed);
    assert_non_null(d);
    assert_int_equal(d->n_records, 4096);
    cpm__delivery_batch__free_unpacked(d, NULL);
    free(packed);
    free(buf);
}

static void test_ratelimit(void **state)
{
    cpm_ratelimit_t r = CPM_RATELIMIT_INIT(3, 1000);
    uint64_t dropped = 99;
    int allowed = 0;
    for (int i = 0; i < 100; i++)
        allowed += cpm_ratelimit_allow(&r, 5000 + i, &dropped);
    assert_int_equal(allowed, 3);
    assert_int_equal(dropped, 0);
    /* the next window lets lines through again and says how many were held */
    assert_int_equal(cpm_ratelimit_allow(&r, 6000, &dropped), 1);
    assert_int_equal(dropped, 97);
    assert_string_equal(cpm_ratelimit_note(0), "");
    assert_string_equal(cpm_ratelimit_note(97), " (97 similar lines not logged)");
}

/* The budget allocator is per thread: another thread's call neither
 * returns the same object nor resets this thread's budget mid-unpack
 * (client threads decode receipts at once). */
static void *other_budget(void *arg)
{
    ProtobufCAllocator *a = cpm_pb_budget(1u << 20);
    *(ProtobufCAllocator **)arg = a;
    return NULL;
}

static void test_budget_is_per_thread(void **state)
{
    (void)state;
    ProtobufCAllocator *mine = cpm_pb_budget(0), *theirs = NULL;
    /* Take almost all of this thread's budget. */
    void *p = mine->alloc(mine->allocator_data, CPM_PB_ALLOC_BASE - 16);
    assert_non_null(p);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, other_budget, &theirs), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_non_null(theirs);
    assert_ptr_not_equal(theirs, mine);
    assert_ptr_not_equal(theirs->allocator_data, mine->allocator_data);
    /* Its 1 MiB budget did not reset ours: the rest is still refused. */
    assert_null(mine->alloc(mine->allocator_data, 1024));
    mine->free(mine->allocator_data, p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_fields_pass),
        cmocka_unit_test(test_unknown_field_is_named),
        cmocka_unit_test(test_nested_unknown_field_has_a_path),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_wire_reader),
        cmocka_unit_test(test_budget_refuses_a_payload_of_tiny_fields),
        cmocka_unit_test(test_budget_is_per_thread),
        cmocka_unit_test(test_ratelimit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
