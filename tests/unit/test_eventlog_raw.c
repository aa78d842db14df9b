/* Tests for cpm_eventlog_read_raw and cpm_eventlog_batch_payload: the same
 * events, seqs and hashes as cpm_eventlog_read, the same batch bytes as
 * packing the decoded events, and the same refusals of a corrupt log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_err.h"
#include "cpm_eventlog.h"
#include "cpm_eventlog_int.h"
#include "cpm_util.h"
#include "fixtures/store/store_fixture.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef stx_t fixture_t;

static int setup(void **state)
{
    assert_true(sodium_init() >= 0);
    *state = stx_new("evraw");
    return 0;
}

/* n events of every shape: plain, with the record fields, with issue 12's. */
static void append_n(fixture_t *f, int n)
{
    for (int i = 0; i < n; i++) {
        char note[64], ticket[32];
        snprintf(note, sizeof note, "channel=web place=name %d", i);
        snprintf(ticket, sizeof ticket, "HK-%08d", i + 1);
        cpm_event_t e = {.kind = "complaint.received",
                         .ticket = ticket,
                         .area = "hoan-kiem",
                         .category = "food_safety",
                         .state = CPM__CASE_STATE__CASE_STATE_RECEIVED,
                         .actor = "hn.d.hoan-kiem",
                         .note = note};
        if (i % 3 == 1) {
            e.channel = "web";
            e.business = "Cửa hàng Hoa Mai";
            e.address = "12 Hàng Bạc";
        }
        if (i % 3 == 2) {
            e.product = "sữa";
            e.suggested = "food_safety";
            e.suggestion_pm = 700 + (uint32_t)i;
            e.category_by = "model";
        }
        assert_int_equal(cpm_eventlog_append(f->s, f->txn, 1700000000000 + i, &e, NULL), 0);
    }
}

static void test_same_events_as_read(void **state)
{
    fixture_t *f = *state;
    append_n(f, 40);
    for (uint64_t from = 1; from <= 41; from += 13) {
        Cpm__Event **ev = NULL;
        size_t n = 0, nr = 0;
        cpm_event_raw_t raw[16];
        assert_int_equal(cpm_eventlog_read(f->s, f->txn, from, 16, &ev, &n), 0);
        assert_int_equal(cpm_eventlog_read_raw(f->s, f->txn, from, 16, raw, &nr), 0);
        assert_int_equal(nr, n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(raw[i].seq, ev[i]->seq);
            assert_non_null(raw[i].hash);
            assert_memory_equal(raw[i].hash, ev[i]->hash.data, 32);
            assert_int_equal(raw[i].len, cpm__event__get_packed_size(ev[i]));
        }
        cpm_eventlog_free(&ev, n);
    }
}

/* The payload of a publication, built from raw events, is the packing of
 * the batch with the decoded events; and as many fit in a size limit. */
static void test_batch_payload_is_the_packed_batch(void **state)
{
    fixture_t *f = *state;
    append_n(f, 60);
    Cpm__Event **ev = NULL;
    size_t n = 0, nr = 0;
    cpm_event_raw_t raw[60];
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 1, 60, &ev, &n), 0);
    assert_int_equal(cpm_eventlog_read_raw(f->s, f->txn, 1, 60, raw, &nr), 0);
    assert_int_equal(n, 60);
    assert_int_equal(nr, 60);
    static const size_t limits[] = {1, 500, 4096, 1u << 20};
    for (size_t l = 0; l < sizeof limits / sizeof *limits; l++) {
        size_t k = cpm_event_raw_within(raw, nr, limits[l]);
        /* what a server counts with decoded events */
        size_t total = 0, kd = 0;
        for (; kd < n; kd++) {
            total += cpm__event__get_packed_size(ev[kd]) + 8;
            if (total > limits[l] && kd > 0)
                break;
        }
        assert_int_equal(k, kd);
        Cpm__EventBatch eb = CPM__EVENT_BATCH__INIT;
        eb.node = "hn.d.hoan-kiem";
        eb.service = "intake";
        eb.head_seq = 60;
        uint8_t *pl = NULL;
        size_t pl_len = 0;
        assert_int_equal(cpm_eventlog_batch_payload(&eb, raw, k, &pl, &pl_len), 0);
        eb.n_events = k;
        eb.events = ev;
        size_t want_len = cpm__event_batch__get_packed_size(&eb);
        uint8_t *want = malloc(want_len);
        assert_non_null(want);
        cpm__event_batch__pack(&eb, want);
        assert_int_equal(pl_len, want_len);
        assert_memory_equal(pl, want, want_len);
        free(want);
        free(pl);
    }
    /* A head with fields after the events is refused, not packed wrongly. */
    Cpm__EventBatch bad = CPM__EVENT_BATCH__INIT;
    bad.scan_from = 1;
    uint8_t *pl = NULL;
    size_t pl_len = 0;
    assert_int_equal(cpm_eventlog_batch_payload(&bad, raw, 1, &pl, &pl_len), CPM_E_INVALID);
    assert_null(pl);
    cpm_eventlog_free(&ev, n);
}

/* Put value as the event of seq (as a corrupt store would hold it). */
static void put_event_bytes(fixture_t *f, uint64_t seq, const uint8_t *value, size_t len)
{
    uint8_t key[8];
    cpm_put_be64(key, seq);
    assert_int_equal(cpm_store_put(f->s, f->txn, CPM_DB_EVENTS, key, 8, value, len), 0);
}

/* Both readers refuse the same corrupt events, and accept the same odd but
 * decodable ones. */
static void test_refuses_what_read_refuses(void **state)
{
    fixture_t *f = *state;
    append_n(f, 3);
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
        bool ok;
    } cases[] = {
        {"seq 4 alone", {0x08, 0x04}, 2, true},
        {"seq of another key", {0x08, 0x05}, 2, false},
        {"truncated varint", {0x08, 0x84}, 2, false},
        {"length past the end", {0x08, 0x04, 0x1a, 0x09, 'x'}, 5, false},
        {"seq as bytes", {0x0a, 0x01, 0x04}, 3, false},
        {"kind as a varint", {0x08, 0x04, 0x18, 0x01}, 4, false},
        {"unknown field 99 kept", {0x08, 0x04, 0x98, 0x06, 0x01}, 5, true},
        {"seq twice, the last wins", {0x08, 0x07, 0x08, 0x04}, 4, true},
        {"group (wire type 3)", {0x08, 0x04, 0x1b}, 3, false},
        /* protobuf-c 1.4's limits: tags and length prefixes of 5 bytes at
         * most; a number past 2^29-1 in 5 bytes is an unknown field, kept. */
        {"tag in 6 bytes", {0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x04}, 7, false},
        {"tag in 5 bytes", {0x88, 0x80, 0x80, 0x80, 0x00, 0x04}, 6, true},
        {"length prefix in 6 bytes",
         {0x08, 0x04, 0x1a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 'x'},
         10,
         false},
        {"length prefix in 5 bytes",
         {0x08, 0x04, 0x1a, 0x81, 0x80, 0x80, 0x80, 0x00, 'x'},
         9,
         true},
        {"field 2^29 kept", {0x08, 0x04, 0x80, 0x80, 0x80, 0x80, 0x10, 0x01}, 8, true},
        {"field 2^32-1 kept", {0x08, 0x04, 0xf8, 0xff, 0xff, 0xff, 0x7f, 0x01}, 8, true},
        {"field 0 in one byte", {0x08, 0x04, 0x00, 0x01}, 4, false},
        {"field 0 in two bytes kept", {0x08, 0x04, 0x80, 0x00, 0x01}, 5, true},
        {"varint in 10 bytes",
         {0x08, 0x04, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
         13,
         true},
        {"varint in 11 bytes",
         {0x08, 0x04, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
         14,
         false},
        {"kind not UTF-8", {0x08, 0x04, 0x1a, 0x01, 0xff}, 5, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        put_event_bytes(f, 4, cases[i].bytes, cases[i].len);
        Cpm__Event **ev = NULL;
        size_t n = 0, nr = 0;
        cpm_event_raw_t raw[8];
        int rc = cpm_eventlog_read(f->s, f->txn, 1, 8, &ev, &n);
        int rr = cpm_eventlog_read_raw(f->s, f->txn, 1, 8, raw, &nr);
        if (rc != rr || n != nr || (rc == 0) != cases[i].ok)
            fail_msg("%s: read %d (%zu events), read_raw %d (%zu events)", cases[i].what, rc, n, rr,
                     nr);
        /* The expected answer is protobuf-c's own, not only ours: the
         * decoder accepts exactly the cases marked ok (but the one whose
         * seq is not its key, which only the log refuses). */
        Cpm__Event *dec = cpm__event__unpack(NULL, cases[i].len, cases[i].bytes);
        if ((dec != NULL) != (cases[i].ok || strcmp(cases[i].what, "seq of another key") == 0))
            fail_msg("%s: protobuf-c's decoder %s it", cases[i].what, dec ? "accepts" : "refuses");
        if (dec)
            cpm__event__free_unpacked(dec, NULL);
        if (rc == 0) {
            assert_int_equal(raw[3].seq, 4);
            assert_null(raw[3].hash); /* none of 32 bytes */
        }
        cpm_eventlog_free(&ev, n);
    }
}

/* A head with unknown fields (protobuf-c packs them last, after the
 * events) is refused rather than packed in the wrong order. */
static void test_batch_payload_refuses_unknown_fields(void **state)
{
    fixture_t *f = *state;
    append_n(f, 2);
    cpm_event_raw_t raw[2];
    size_t nr = 0;
    assert_int_equal(cpm_eventlog_read_raw(f->s, f->txn, 1, 2, raw, &nr), 0);
    static const uint8_t head_bytes[] = {0x0a, 0x01, 'n', 0x18, 0x02, 0x98, 0x06, 0x01}; /* #99 */
    Cpm__EventBatch *head = cpm__event_batch__unpack(NULL, sizeof head_bytes, head_bytes);
    assert_non_null(head);
    assert_int_equal(head->base.n_unknown_fields, 1);
    uint8_t *pl = (uint8_t *)"x";
    size_t pl_len = 1;
    assert_int_equal(cpm_eventlog_batch_payload(head, raw, nr, &pl, &pl_len), CPM_E_INVALID);
    assert_null(pl);
    assert_int_equal(pl_len, 0);
    cpm__event_batch__free_unpacked(head, NULL);
}

/* Every field of Event has a wire type the raw reader checks as the decoder
 * does: a field it cannot judge (a repeated one, packed or not, or a
 * sub-message) would make events holding it unreadable by cpm_eventlog_read
 * and cpm_eventlog_read_raw alike. */
static void test_every_event_field_has_a_wire_type(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &cpm__event__descriptor;
    assert_true(d->n_fields > 20);
    for (unsigned i = 0; i < d->n_fields; i++)
        if (cpm_event_field_wire_type(&d->fields[i]) == -1)
            fail_msg("Event.%s (type %d, label %d): the raw reader does not check it",
                     d->fields[i].name, (int)d->fields[i].type, (int)d->fields[i].label);
    /* and it refuses what it cannot judge */
    ProtobufCFieldDescriptor fd = d->fields[0];
    fd.label = PROTOBUF_C_LABEL_REPEATED;
    assert_int_equal(cpm_event_field_wire_type(&fd), -1);
    fd = d->fields[0];
    fd.type = PROTOBUF_C_TYPE_MESSAGE;
    assert_int_equal(cpm_event_field_wire_type(&fd), -1);
    fd.type = PROTOBUF_C_TYPE_FIXED32;
    assert_int_equal(cpm_event_field_wire_type(&fd), 5);
    fd.type = PROTOBUF_C_TYPE_DOUBLE;
    assert_int_equal(cpm_event_field_wire_type(&fd), 1);
    fd.type = PROTOBUF_C_TYPE_BOOL; /* protobuf-c takes a bool in any wire type */
    assert_int_equal(cpm_event_field_wire_type(&fd), CPM_EVENT_WIRE_ANY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_events_as_read, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_payload_is_the_packed_batch, setup,
                                        stx_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_what_read_refuses, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_payload_refuses_unknown_fields, setup,
                                        stx_teardown),
        cmocka_unit_test(test_every_event_field_has_a_wire_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
