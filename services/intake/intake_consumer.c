/* intake_consumer: see intake_consumer.h. */
#include "intake_consumer.h"

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
    int len = snprintf(out, n, "%s%s", national == d ? "" : "0", national);
    return len > 0 && (size_t)len < n;
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
    crypto_generichash(out, INTAKE_CONSUMER_KEY_LEN, (const uint8_t *)norm, strlen(norm), secret,
                       32);
    sodium_memzero(norm, sizeof norm);
    return true;
}
