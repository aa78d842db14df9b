/* complaints: the complaints the phases send, alike in size and spread over
 * areas and categories, unique across runs. */
#include "bench.h"

#include <stdio.h>

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
    c->consumer_phone = "0912 345 678";
    c->business_name = b->business;
    c->business_address = "12 Hang Bac";
    c->area = (char *)AREAS[i % 4];
    c->category = (char *)CATEGORIES[(i / 4) % 4];
    c->description = b->desc;
    c->client_ref = b->ref;
    c->urgent = i % 10 == 0;
}
