/* cpm_seal: sealed contacts. See cpm_seal.h. */
#include "cpm_seal.h"

#include "cpm_err.h"

#include <sodium.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static bool blank(const char *s)
{
    return !s || !*s;
}

bool cpm_seal_card_empty(const Cpm__ContactCard *card)
{
    return blank(card->name) && blank(card->phone) && blank(card->email);
}

int cpm_seal_contact(const Cpm__ContactCard *card, const uint8_t curve_pk[32], uint8_t **out,
                     size_t *len)
{
    *out = NULL;
    *len = 0;
    if (sodium_init() < 0)
        return CPM_E_INTERNAL;
    size_t plen = protobuf_c_message_get_packed_size(&card->base);
    if (plen + crypto_box_SEALBYTES > CPM_SEAL_MAX)
        return CPM_E_TOO_LARGE;
    uint8_t clear[CPM_SEAL_MAX];
    protobuf_c_message_pack(&card->base, clear);
    uint8_t *sealed = malloc(plen + crypto_box_SEALBYTES);
    int rc = CPM_E_INTERNAL;
    if (sealed && crypto_box_seal(sealed, clear, plen, curve_pk) == 0) {
        *out = sealed;
        *len = plen + crypto_box_SEALBYTES;
        rc = 0;
    } else if (sealed) {
        free(sealed);
        rc = CPM_E_INVALID;
    }
    sodium_memzero(clear, plen);
    return rc;
}

Cpm__ContactCard *cpm_seal_open(const uint8_t *sealed, size_t len, const uint8_t curve_pk[32],
                                const uint8_t curve_sk[32], const char *ticket, int *rc)
{
    if (len > CPM_SEAL_MAX) {
        *rc = CPM_E_TOO_LARGE;
        return NULL;
    }
    *rc = CPM_E_INVALID;
    if (len < crypto_box_SEALBYTES)
        return NULL;
    uint8_t clear[CPM_SEAL_MAX];
    size_t plen = 0;
    /* Format v2 starts with 0x02; a sealed box starts with its random epk,
     * which may too: the MAC decides, and a v2 open that fails falls back. */
    if (sealed[0] == CPM_SEAL_V2 && len >= CPM_SEAL_V2_OVERHEAD &&
        crypto_box_open_easy(clear, sealed + 57, len - 57, sealed + 33, sealed + 1, curve_sk) == 0)
        plen = len - CPM_SEAL_V2_OVERHEAD;
    else if (crypto_box_seal_open(clear, sealed, len, curve_pk, curve_sk) == 0)
        plen = len - crypto_box_SEALBYTES;
    else
        return NULL;
    Cpm__ContactCard *card = cpm__contact_card__unpack(NULL, plen, clear);
    sodium_memzero(clear, plen);
    if (!card)
        return NULL;
    if (!ticket || strcmp(card->ticket, ticket) != 0) {
        cpm__contact_card__free_unpacked(card, NULL);
        *rc = CPM_E_CONFLICT;
        return NULL;
    }
    *rc = 0;
    return card;
}

/* ---- format v2: an ephemeral key shared by a few seals (see cpm_seal.h) ---- */

#define SEALER_SLOTS 8 /* recipients kept at once: one intake seals to a few agencies */

typedef struct {
    bool used;
    uint8_t pk[32];                      /* recipient */
    uint8_t epk[32];                     /* ephemeral public key */
    uint8_t k[crypto_box_BEFORENMBYTES]; /* shared key: secret, wiped on rotation */
    unsigned uses;
    int64_t born_ms;
} slot_t;

/* Nonces drawn from the system in one call for this many seals: a
 * getrandom per seal was a fifth of sealing's cost. Each is used once. */
#define SEALER_NONCES 64

struct cpm_sealer {
    slot_t slot[SEALER_SLOTS];
    size_t next; /* slot replaced next when all are taken */
    uint8_t nonces[SEALER_NONCES][crypto_box_NONCEBYTES];
    size_t nonces_used; /* of nonces; SEALER_NONCES: draw again */
    unsigned forks;     /* sealer_forks when the keys and nonces were drawn */
};

/* Bumped in every child a fork makes: a child holds a copy of its parent's
 * sealers, whose unused nonces and shared keys the parent goes on using, so
 * the same (key, nonce) would seal two contacts. A sealer that sees the
 * count move forgets both before it seals (as cpm_random_id's pool). */
static atomic_uint sealer_forks;
static pthread_once_t sealer_forks_once = PTHREAD_ONCE_INIT;

static void sealer_forked(void)
{
    atomic_fetch_add_explicit(&sealer_forks, 1, memory_order_relaxed);
}

static void sealer_forks_watch(void)
{
    pthread_atfork(NULL, NULL, sealer_forked);
}

/* Wipe every slot and every nonce not yet used. */
static void sealer_forget(cpm_sealer_t *s)
{
    sodium_memzero(s->slot, sizeof s->slot);
    sodium_memzero(s->nonces, sizeof s->nonces);
    s->next = 0;
    s->nonces_used = SEALER_NONCES; /* none drawn */
}

/* A sealer copied into a forked child forgets what its parent drew. */
static void sealer_check_fork(cpm_sealer_t *s)
{
    unsigned now = atomic_load_explicit(&sealer_forks, memory_order_relaxed);
    if (s->forks != now) {
        sealer_forget(s);
        s->forks = now;
    }
}

cpm_sealer_t *cpm_sealer_new(void)
{
    if (sodium_init() < 0)
        return NULL;
    pthread_once(&sealer_forks_once, sealer_forks_watch);
    /* Guarded, locked memory: the shared keys open past contacts. */
    cpm_sealer_t *s = sodium_malloc(sizeof *s);
    if (s) {
        sodium_memzero(s, sizeof *s);
        s->nonces_used = SEALER_NONCES; /* none drawn yet */
        s->forks = atomic_load_explicit(&sealer_forks, memory_order_relaxed);
    }
    return s;
}

void cpm_sealer_destroy(cpm_sealer_t **p)
{
    if (!p || !*p)
        return;
    sodium_free(*p); /* wipes */
    *p = NULL;
}

static bool expired(const slot_t *sl, int64_t now_ms)
{
    return sl->uses >= CPM_SEALER_USES || now_ms - sl->born_ms >= CPM_SEALER_MS ||
           now_ms < sl->born_ms;
}

size_t cpm_sealer_sweep(cpm_sealer_t *s, int64_t now_ms)
{
    sealer_check_fork(s);
    size_t n = 0;
    for (size_t i = 0; i < SEALER_SLOTS; i++)
        if (s->slot[i].used && expired(&s->slot[i], now_ms)) {
            sodium_memzero(&s->slot[i], sizeof s->slot[i]);
            n++;
        }
    return n;
}

/* The slot for recipient pk with a live ephemeral key, drawn anew when it
 * has done its seals or its time. NULL when libsodium refuses the key. */
static slot_t *sealer_slot(cpm_sealer_t *s, const uint8_t pk[32], int64_t now_ms)
{
    slot_t *sl = NULL;
    for (size_t i = 0; i < SEALER_SLOTS && !sl; i++)
        if (s->slot[i].used && sodium_memcmp(s->slot[i].pk, pk, 32) == 0)
            sl = &s->slot[i];
    if (!sl) {
        for (size_t i = 0; i < SEALER_SLOTS && !sl; i++)
            if (!s->slot[i].used)
                sl = &s->slot[i];
        if (!sl) {
            sl = &s->slot[s->next];
            s->next = (s->next + 1) % SEALER_SLOTS;
        }
        sodium_memzero(sl, sizeof *sl);
        memcpy(sl->pk, pk, 32);
    }
    if (!sl->used || expired(sl, now_ms)) {
        uint8_t esk[32];
        crypto_box_keypair(sl->epk, esk);
        int rc = crypto_box_beforenm(sl->k, pk, esk);
        sodium_memzero(esk, sizeof esk);
        if (rc != 0) {
            sodium_memzero(sl, sizeof *sl);
            return NULL;
        }
        sl->used = true;
        sl->uses = 0;
        sl->born_ms = now_ms;
    }
    sl->uses++;
    return sl;
}

/* The next unused random nonce into out (public: it is sent in clear). */
static void sealer_nonce(cpm_sealer_t *s, uint8_t out[crypto_box_NONCEBYTES])
{
    if (s->nonces_used >= SEALER_NONCES) {
        randombytes_buf(s->nonces, sizeof s->nonces);
        s->nonces_used = 0;
    }
    memcpy(out, s->nonces[s->nonces_used], crypto_box_NONCEBYTES);
    sodium_memzero(s->nonces[s->nonces_used++], crypto_box_NONCEBYTES); /* never twice */
}

int cpm_sealer_seal(cpm_sealer_t *s, const Cpm__ContactCard *card, const uint8_t curve_pk[32],
                    int64_t now_ms, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t plen = protobuf_c_message_get_packed_size(&card->base);
    if (plen + CPM_SEAL_V2_OVERHEAD > CPM_SEAL_MAX)
        return CPM_E_TOO_LARGE;
    cpm_sealer_sweep(s, now_ms); /* no key outlives its window, whoever it was for */
    slot_t *sl = sealer_slot(s, curve_pk, now_ms);
    if (!sl)
        return CPM_E_INVALID;
    uint8_t clear[CPM_SEAL_MAX];
    protobuf_c_message_pack(&card->base, clear);
    uint8_t *b = malloc(plen + CPM_SEAL_V2_OVERHEAD);
    int rc = CPM_E_INTERNAL;
    if (b) {
        b[0] = CPM_SEAL_V2;
        memcpy(b + 1, sl->epk, 32);
        sealer_nonce(s, b + 33);
        if (crypto_box_easy_afternm(b + 57, clear, plen, b + 33, sl->k) == 0) {
            *out = b;
            *len = plen + CPM_SEAL_V2_OVERHEAD;
            rc = 0;
        } else {
            free(b);
        }
    }
    sodium_memzero(clear, plen);
    return rc;
}
