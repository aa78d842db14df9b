/* Fuzz target: what another agency may send an exchange, as the exchange
 * handles it on a store holding published records, in a write transaction
 * aborted after each input:
 *   byte 0 % 3 == 0: an ExchangeQuery (exchange_query: policy, filters,
 *                    business matching, redaction, the signed answer);
 *   byte 0 % 3 == 1: an ExchangeDelivery from a publisher's exchange
 *                    (exchange_received_apply);
 *   byte 0 % 3 == 2: an ExchangePublish by the agency's officer.
 * Bits 2-3 of byte 0 choose who asks (own agency, another agency with or
 * without a policy rule, a coordinator). Payloads are decoded under the
 * decoding budget and checked with cpm_pbcheck first, as the service does. */
#include "fuzz_env.h"

#include "cpm_pbcheck.h"
#include "cpm_xpolicy.h"
#include "exchange_publish.h"
#include "exchange_query.h"
#include "exchange_received.h"
#include "exchange_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *ALL[] = {"*"};
static char *FIELDS[] = {"business", "area", "fine_vnd", "date", "reason", "product"};

static const Cpm__ExchangePolicy *policy(void)
{
    static Cpm__PolicyRule r = CPM__POLICY_RULE__INIT;
    static Cpm__PolicyRule *rules[] = {&r};
    static Cpm__ExchangePolicy p = CPM__EXCHANGE_POLICY__INIT;
    r.dataset = "watchlist";
    r.agencies = ALL;
    r.n_agencies = 1;
    r.fields = FIELDS;
    r.n_fields = 6;
    r.subscribe = true;
    p.agency = FZ_AREA;
    p.version = 1;
    p.rules = rules;
    p.n_rules = 1;
    return &p;
}

static void seed_records(cpm_store_t *st)
{
    static const char *const names[] = {"Công ty TNHH Phở Cồ", "Shop Hoa Mai", "Cửa hàng Minh Đức"};
    MDB_txn *txn;
    if (cpm_store_begin(st, true, &txn) != 0)
        fz_die("seed", "begin");
    for (int i = 0; i < 30; i++) {
        char key[16], from[24];
        snprintf(key, sizeof key, "W%d", i + 1);
        snprintf(from, sizeof from, "%lld", (long long)(fz_now_ms() - i * 86400000LL));
        Cpm__DataField a = CPM__DATA_FIELD__INIT, b = CPM__DATA_FIELD__INIT,
                       c = CPM__DATA_FIELD__INIT;
        a.name = "business";
        a.value = (char *)names[i % 3];
        b.name = "area";
        b.value = i % 2 ? "hoan-kiem" : "ba-dinh";
        c.name = "from";
        c.value = from;
        Cpm__DataField *fs[] = {&a, &b, &c};
        Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
        r.dataset = "watchlist";
        r.key = key;
        r.fields = fs;
        r.n_fields = 3;
        r.at_ms = fz_now_ms();
        cpm_error_t err = {0};
        if (exchange_records_put(st, txn, FZ_AREA, 1000, &r, NULL, &err) != 0)
            fz_die("seed", err.message);
    }
    if (cpm_store_commit(txn) != 0)
        fz_die("seed", "commit");
}

static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, cpm_pb_budget(n), n, b);
    if (!m)
        return NULL;
    cpm_error_t err = {0};
    if (cpm_pbcheck(m, NULL, &err) != 0) {
        protobuf_c_message_free_unpacked(m, cpm_pb_budget(n));
        return NULL;
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cpm_store_t *st;
    static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};
    static cpm_sender_t signer;
    if (!st) {
        st = fz_store("exchange", dbs);
        seed_records(st);
        cpm_sender_init(&signer, fz_identity(FZ_AREA), "exchange");
    }
    if (size < 1)
        return 0;
    static const char *const who[][3] = {{"officer.x", FZ_AREA, "officer"},
                                         {"officer.y", "hn.qltt", "officer"},
                                         {"coordinator.z", FZ_CITY, "coordinator"},
                                         {"nobody", "", ""}};
    int w = (data[0] >> 2) & 3;
    exchange_t x = {FZ_AREA, 1000, fz_registry(), fz_identity(FZ_AREA), 300000, NULL, NULL};
    exchange_sender_t s = {who[w][0], who[w][1], who[w][2], data, size};
    cpm_effects_t fx = fz_effects(st, FZ_AREA "/exchange");
    cpm_error_t err = {0};
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, true, &txn) != 0)
        return 0;
    switch (data[0] % 3) {
    case 0: {
        Cpm__ExchangeQuery *q =
            (Cpm__ExchangeQuery *)decode(&cpm__exchange_query__descriptor, data + 1, size - 1);
        if (q) {
            exchange_query_req_t req = {s, "cli.1", "00000000000000000000000000000001"};
            uint8_t *ans = NULL;
            size_t alen = 0;
            if (exchange_query(&x, w == 3 ? NULL : policy(), &signer, st, txn, &fx, &req, q,
                               fz_now_ms(), &ans, &alen, &err) == 0)
                free(ans);
            protobuf_c_message_free_unpacked(&q->base, cpm_pb_budget(size - 1));
        }
        break;
    }
    case 1: {
        Cpm__ExchangeDelivery *dl = (Cpm__ExchangeDelivery *)decode(
            &cpm__exchange_delivery__descriptor, data + 1, size - 1);
        if (dl) {
            const Cpm__Member *pm = cpm_registry_member(fz_registry(), FZ_CITY);
            (void)exchange_received_apply(&x, st, txn, &fx, pm, dl, fz_now_ms(), NULL, &err);
            protobuf_c_message_free_unpacked(&dl->base, cpm_pb_budget(size - 1));
        }
        break;
    }
    default: {
        Cpm__ExchangePublish *p =
            (Cpm__ExchangePublish *)decode(&cpm__exchange_publish__descriptor, data + 1, size - 1);
        if (p) {
            Cpm__ExchangePublishReply r = CPM__EXCHANGE_PUBLISH_REPLY__INIT;
            (void)exchange_publish(&x, st, txn, &fx, &s, p, fz_now_ms(), &r, &err);
            protobuf_c_message_free_unpacked(&p->base, cpm_pb_budget(size - 1));
        }
        break;
    }
    }
    cpm_store_abort(&txn);
    return 0;
}
