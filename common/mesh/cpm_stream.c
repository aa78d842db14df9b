/* cpm_stream: build, parse and mark stream names (see cpm_stream.h). */
#include "cpm_stream.h"

#include <stdio.h>
#include <string.h>

/* A part must be non-empty and hold neither separator, or the name could not
 * be read back into the same four parts. */
static int part_ok(const char *s)
{
    return s && s[0] && !strpbrk(s, "/>");
}

int cpm_stream_build(char *out, size_t n, const char *from_member, const char *from_service,
                     const char *to_member, const char *to_service)
{
    if (!part_ok(from_member) || !part_ok(from_service) || !part_ok(to_member) ||
        !part_ok(to_service))
        return CPM_E_INVALID;
    /* by hand, not snprintf: every record queued and every batch received
     * names its stream */
    const char *part[4] = {from_member, from_service, to_member, to_service};
    static const char sep[4] = {'/', '>', '/', 0};
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(part[i]);
        if (n == 0 || l >= n - k)
            return CPM_E_TOO_LARGE;
        memcpy(out + k, part[i], l);
        k += l;
        out[k] = sep[i];
        k += i < 3;
    }
    return 0;
}

/* "<member>/<service>" of [s, end) into e. */
static int parse_end(const char *s, const char *end, cpm_stream_end_t *e)
{
    const char *slash = memchr(s, '/', (size_t)(end - s));
    if (!slash || slash == s || slash + 1 == end ||
        memchr(slash + 1, '/', (size_t)(end - slash - 1)))
        return CPM_E_INVALID;
    size_t ml = (size_t)(slash - s), sl = (size_t)(end - slash - 1);
    if (ml >= sizeof e->member || sl >= sizeof e->service)
        return CPM_E_INVALID;
    memcpy(e->member, s, ml);
    e->member[ml] = 0;
    memcpy(e->service, slash + 1, sl);
    e->service[sl] = 0;
    return 0;
}

int cpm_stream_parse(const char *stream, cpm_stream_parts_t *out)
{
    const char *gt = strchr(stream, '>');
    if (!gt || strchr(gt + 1, '>'))
        return CPM_E_INVALID;
    int rc = parse_end(stream, gt, &out->from);
    return rc != 0 ? rc : parse_end(gt + 1, gt + 1 + strlen(gt + 1), &out->to);
}

int cpm_stream_parse_end(const char *end, cpm_stream_end_t *out)
{
    return strchr(end, '>') ? CPM_E_INVALID : parse_end(end, end + strlen(end), out);
}

int cpm_stream_mark(const char *stream, uint64_t epoch, char *out, size_t n)
{
    int w = epoch == 0 ? snprintf(out, n, "%s", stream)
                       : snprintf(out, n, "%s@%016llx", stream, (unsigned long long)epoch);
    return (w < 0 || (size_t)w >= n) ? CPM_E_TOO_LARGE : 0;
}

int cpm_stream_sender_prefix(const char *stream, char *out, size_t n)
{
    const char *slash = strchr(stream, '/');
    size_t plen = slash ? (size_t)(slash - stream) + 1 : 0;
    if (plen == 0 || plen >= n)
        return CPM_E_INVALID;
    memcpy(out, stream, plen);
    out[plen] = 0;
    return 0;
}
