/* intake_consumer: see intake_consumer.h. */
#include "intake_consumer.h"
#include "intake_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int intake_consumer_secret_load(const char *path, uint8_t secret[32], cpm_error_t *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return cpm_error_set(err, CPM_E_INVALID, "consumer_key_file", "consumer_key_file %s: %s",
                             path, strerror(errno));
    struct stat sb;
    const char *why = NULL;
    if (fstat(fd, &sb) != 0)
        why = strerror(errno);
    else if (!S_ISREG(sb.st_mode))
        why = "not a regular file";
    else if (sb.st_uid != geteuid())
        why = "not owned by this user";
    else if (sb.st_mode & 077)
        why = "readable by others: chmod 600 it";
    else if (sb.st_size != 32)
        why = "not exactly 32 bytes";
    else if (read(fd, secret, 32) != 32)
        why = "cannot be read";
    close(fd);
    if (why) {
        sodium_memzero(secret, 32);
        return cpm_error_set(err, CPM_E_INVALID, "consumer_key_file", "consumer_key_file %s: %s",
                             path, why);
    }
    return 0;
}

bool intake_phone_normalise(const char *phone, char *out, size_t n)
{
    char d[64];
    size_t k = 0;
    for (const char *p = phone; p && *p; p++)
        if (*p >= '0' && *p <= '9') {
            if (k + 1 >= sizeof d)
                return false;
            d[k++] = *p;
        }
    d[k] = 0;
    if (k == 0)
        return false;
    const char *national = d;
    if (!strncmp(d, "0084", 4))
        national = d + 4;
    else if (!strncmp(d, "84", 2) && (k == 11 || k == 12)) /* 84 + 9-10 digit number */
        national = d + 2;
    /* "0" before a number given with the country code, into out as
     * snprintf would put it (cut short when n is too small); copies, not
     * snprintf: every complaint with a phone comes here. */
    size_t zero = national != d, len = zero + k - (size_t)(national - d);
    if (n > 0) {
        size_t keep = len < n ? len : n - 1, z = zero && keep;
        if (z)
            out[0] = '0';
        memcpy(out + z, national, keep - z);
        out[keep] = 0;
    }
    return len > 0 && len < n;
}

/* The BLAKE2b state keyed with the last secret, per thread. */
typedef struct {
    bool set;
    uint8_t secret[32];
    crypto_generichash_state keyed;
} keyed_t;

static intake_secret_slot_t keyed_slot = INTAKE_SECRET_SLOT(sizeof(keyed_t));
static _Thread_local void *keyed_mine;

void intake_consumer_forget(void)
{
    intake_secret_forget(&keyed_slot, &keyed_mine);
}

bool intake_consumer_keeps(void)
{
    return keyed_mine != NULL;
}

bool intake_consumer_key(const uint8_t secret[32], const char *phone, const char *email,
                         uint8_t out[INTAKE_CONSUMER_KEY_LEN])
{
    char norm[80] = "";
    if (intake_phone_normalise(phone, norm + 2, sizeof norm - 2)) {
        memcpy(norm, "p:", 2);
    } else if (email && *email) {
        size_t k = 2;
        const char *e = email;
        while (*e == ' ' || *e == '\t')
            e++;
        for (; *e && k + 1 < sizeof norm; e++)
            norm[k++] = (*e >= 'A' && *e <= 'Z') ? (char)(*e - 'A' + 'a') : *e;
        while (k > 2 && (norm[k - 1] == ' ' || norm[k - 1] == '\t'))
            k--;
        norm[k] = 0;
        memcpy(norm, "e:", 2);
        if (k == 2)
            return false;
    } else {
        return false;
    }
    /* The key block is absorbed once per secret (one BLAKE2b compression of
     * two per consumer), kept per thread in guarded memory: the same keyed
     * hash. Without that memory the state is keyed here each time. */
    keyed_t *c = intake_secret_get(&keyed_slot, &keyed_mine);
    crypto_generichash_state h;
    if (!c)
        crypto_generichash_init(&h, secret, 32, INTAKE_CONSUMER_KEY_LEN);
    else {
        if (!c->set || sodium_memcmp(c->secret, secret, 32) != 0) {
            memcpy(c->secret, secret, 32);
            crypto_generichash_init(&c->keyed, secret, 32, INTAKE_CONSUMER_KEY_LEN);
            c->set = true;
        }
        h = c->keyed;
    }
    crypto_generichash_update(&h, (const uint8_t *)norm, strlen(norm));
    crypto_generichash_final(&h, out, INTAKE_CONSUMER_KEY_LEN);
    sodium_memzero(&h, sizeof h);
    sodium_memzero(norm, sizeof norm);
    return true;
}
