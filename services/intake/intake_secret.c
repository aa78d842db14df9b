/* intake_secret: see intake_secret.h. */
#include "intake_secret.h"

#include <sodium.h>

static void secret_free(void *p)
{
    sodium_free(p); /* wipes */
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
    void *p = sodium_malloc(aligned_size(slot->size));
    if (!p)
        return NULL;
    sodium_memzero(p, aligned_size(slot->size));
    if (pthread_setspecific(slot->key, p) != 0) {
        sodium_free(p);
        return NULL;
    }
    return *mine = p;
}

void intake_secret_forget(intake_secret_slot_t *slot, void **mine)
{
    if (!*mine)
        return;
    pthread_setspecific(slot->key, NULL); /* ready: *mine was set after it */
    sodium_free(*mine);
    *mine = NULL;
}
