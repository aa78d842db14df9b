#include "intake_lookup.h"
#include "cpm_err.h"
#include "intake_secret.h"

#include <nettle/hmac.h>
#include <sodium.h>
#include <string.h>

#define KEY_NAME "intake.lookup_key"
#define TICKET_MEMO 64 /* a longer ticket is not remembered */

/* What the last code cost, kept for the next: the HMAC state with the key
 * absorbed (the key's two compressions of four, done once), and the last
 * ticket's code (intake asks twice per complaint: to send it to routing and
 * to answer the client). Used only after the key in the store, read on every
 * call, is seen to be byte for byte the key it was made from: a key created
 * in a transaction that was then aborted, or another store, makes it again.
 * One per thread, in guarded memory (intake_secret.h): nothing is shared
 * between threads, and intake_lookup_forget or the thread's end wipes it. */
typedef struct {
    bool set;
    uint8_t key[32];
    struct hmac_sha256_ctx keyed;     /* nettle: the CPU's SHA instructions, same HMAC */
    char ticket[TICKET_MEMO];         /* the ticket of code, when code is set */
    char code[CPM_TEXT_CODE_LEN + 1]; /* "" until a code is made */
} lookup_cache_t;

static intake_secret_slot_t cache_slot = INTAKE_SECRET_SLOT(sizeof(lookup_cache_t));
static _Thread_local void *cache_mine;

/* The key in the store (32 bytes inside the map), creating it when there is
 * none (in created, which *key then points at). 0 or a store error. */
static int lookup_key(cpm_store_t *st, MDB_txn *txn, uint8_t created[32], const uint8_t **key)
{
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(st, txn, "meta", KEY_NAME, strlen(KEY_NAME), &v, &vlen);
    if (rc == 0 && vlen == 32) {
        *key = v;
        return 0;
    }
    if (rc == 0) /* a key of another size is not ours: never make codes with it */
        return CPM_E_INTERNAL;
    if (rc != CPM_E_NOT_FOUND)
        return rc;
    randombytes_buf(created, 32);
    *key = created;
    return cpm_store_put(st, txn, "meta", KEY_NAME, strlen(KEY_NAME), created, 32);
}

void intake_lookup_forget(void)
{
    intake_secret_forget(&cache_slot, &cache_mine);
}

bool intake_lookup_keeps(void)
{
    return cache_mine != NULL;
}

/* The code of ticket from the HMAC state keyed with key (made again in c
 * unless it holds that key). */
static void code_of(lookup_cache_t *c, const uint8_t key[32], const char *ticket,
                    char out[CPM_TEXT_CODE_LEN + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    if (!c->set || sodium_memcmp(c->key, key, 32) != 0) {
        sodium_memzero(c, sizeof *c);
        memcpy(c->key, key, 32);
        hmac_sha256_set_key(&c->keyed, 32, key);
        c->set = true;
    }
    size_t tl = strlen(ticket);
    if (c->code[0] && tl < sizeof c->ticket && memcmp(c->ticket, ticket, tl + 1) == 0) {
        memcpy(out, c->code, sizeof c->code);
        return;
    }
    /* The digest leaves the state keyed again, ready for the next ticket. */
    uint8_t mac[SHA256_DIGEST_SIZE];
    hmac_sha256_update(&c->keyed, tl, (const uint8_t *)ticket);
    hmac_sha256_digest(&c->keyed, sizeof mac, mac);
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | mac[i];
    sodium_memzero(mac, sizeof mac);
    for (int i = 0; i < CPM_TEXT_CODE_LEN; i++) /* 5 bits each, from the top */
        out[i] = alphabet[(bits >> (59 - 5 * i)) & 31];
    out[CPM_TEXT_CODE_LEN] = 0;
    if (tl < sizeof c->ticket) {
        memcpy(c->ticket, ticket, tl + 1);
        memcpy(c->code, out, sizeof c->code);
    }
}

int intake_lookup_code(cpm_store_t *st, MDB_txn *txn, const char *ticket,
                       char out[CPM_TEXT_CODE_LEN + 1])
{
    uint8_t created[32];
    const uint8_t *key = NULL;
    int rc = lookup_key(st, txn, created, &key);
    if (rc == 0) {
        lookup_cache_t *c = intake_secret_get(&cache_slot, &cache_mine);
        if (c) {
            code_of(c, key, ticket, out);
        } else { /* no guarded memory: made and wiped here */
            lookup_cache_t once = {0};
            code_of(&once, key, ticket, out);
            sodium_memzero(&once, sizeof once);
        }
    }
    sodium_memzero(created, sizeof created);
    return rc;
}
