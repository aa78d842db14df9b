/* complaints: the complaints the phases send, alike in size and spread over
 * areas and categories, unique across runs. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const AREAS[] = {"hoan-kiem", "ba-dinh", "cau-giay", "tay-ho"};
static const char *const CATEGORIES[] = {"food_safety", "pricing", "counterfeit_goods",
                                         "ecommerce"};

void make_complaint(const env_t *e, const char *tag, uint64_t i, Cpm__Complaint *c,
                    complaint_bufs_t *b)
{
    cpm__complaint__init(c);
    snprintf(b->business, sizeof b->business, "Quan Pho %llu", (unsigned long long)(i % 97));
    snprintf(b->ref, sizeof b->ref, "b%s-%s-%llu", e->run_id, tag, (unsigned long long)i);
    snprintf(b->desc, sizeof b->desc,
             "Complaint %llu: bought a bowl of pho and a drink; the receipt shows a price "
             "higher than the menu on the wall and the staff refused to correct it. Two of us "
             "felt sick in the evening. We kept the receipt and photos of the menu. The shop "
             "opens from six in the morning, the owner's sister runs the till, and the same "
             "happened to our neighbours last week according to them. Please look into it soon, "
             "thank you.",
             (unsigned long long)i);
    c->channel = "hotline";
    c->consumer_name = "Nguyen Van A";
    static _Atomic int distinct = -1; /* read once; every thread reads the same */
    if (distinct < 0) {
        const char *v = getenv("CPM_BENCH_CONSUMERS");
        distinct = v && strcmp(v, "distinct") == 0;
    }
    c->consumer_phone = "0912 345 678";
    if (distinct) { /* of this stream (tag) and complaint: FNV-1a of both */
        uint64_t h = 1469598103934665603ULL;
        for (const char *t = tag; *t; t++)
            h = (h ^ (uint8_t)*t) * 1099511628211ULL;
        h = (h ^ i) * 1099511628211ULL;
        snprintf(b->phone, sizeof b->phone, "09%08llu", (unsigned long long)(h % 100000000ULL));
        c->consumer_phone = b->phone;
    }
    c->business_name = b->business;
    c->business_address = "12 Hang Bac";
    c->area = (char *)AREAS[i % 4];
    c->category = (char *)CATEGORIES[(i / 4) % 4];
    c->description = b->desc;
    c->client_ref = b->ref;
    c->urgent = i % 10 == 0;
}
