/* intake_secret: see intake_secret.h. */
#include "intake_secret.h"

#include <sodium.h>
#include <stdint.h>

/* A block: the owner's _Thread_local pointer (cleared when the block goes),
 * then the secret from byte HEAD on. */
#define HEAD 64

/* At thread exit: the owner's pointer is cleared too, so that nothing later
 * on that thread (another key's destructor) uses the freed block. */
static void secret_free(void *base)
{
    void **mine = *(void ***)base;
    if (mine)
        *mine = NULL;
    sodium_free(base); /* wipes */
}

/* sodium_malloc places a block at the end of its pages: a size that is a
 * multiple of 64 keeps it aligned for any state (BLAKE2b's wants 64). */
static size_t aligned_size(size_t size)
{
    return (size + 63) & ~(size_t)63;
}

void *intake_secret_get(intake_secret_slot_t *slot, void **mine)
{
    if (*mine)
        return *mine;
    if (sodium_init() < 0)
        return NULL;
    pthread_mutex_lock(&slot->mu);
    if (!slot->ready)
        slot->ready = pthread_key_create(&slot->key, secret_free) == 0;
    bool ready = slot->ready;
    pthread_mutex_unlock(&slot->mu);
    if (!ready)
        return NULL;
    size_t total = HEAD + aligned_size(slot->size);
    uint8_t *base = sodium_malloc(total);
    if (!base)
        return NULL;
    sodium_memzero(base, total);
    *(void ***)base = mine;
    if (pthread_setspecific(slot->key, base) != 0) {
        sodium_free(base);
        return NULL;
    }
    return *mine = base + HEAD;
}

void intake_secret_forget(intake_secret_slot_t *slot, void **mine)
{
    if (!*mine)
        return;
    pthread_setspecific(slot->key, NULL); /* ready: *mine was set after it */
    uint8_t *base = (uint8_t *)*mine - HEAD;
    *mine = NULL;
    sodium_free(base);
}
