/* Fuzz target: reading back a store's redo journal (cpm_journal_replay). A
 * record's hash cannot be forged, so the input describes a journal that is
 * written for real (cpm_journal_append: records with chosen gaps in their
 * seq and chosen payloads, segment switches) and then damaged
 * (bytes changed at chosen offsets, the file cut short), as a torn write, rot
 * or stale records would leave it. Replay must not crash or read out of
 * bounds, must give records in seq order from after + 1 with no gap, and
 * must give only payloads that were written. */
#include "fuzz_env.h"

#include "cpm_journal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEG ((size_t)64 << 10)

typedef struct {
    uint64_t last;
} seen_t;

static int on_record(void *ctx, uint64_t seq, const uint8_t *payload, size_t len)
{
    seen_t *s = ctx;
    if (seq != s->last + 1)
        fz_die("journal", "a record out of order or after a gap");
    if (len > 255 || (len > 0 && payload[0] != (uint8_t)seq))
        fz_die("journal", "a payload that was not written");
    s->last = seq;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t id[CPM_JOURNAL_ID_LEN] = "fuzz journal id";
    static uint8_t zero[SEG];
    char dir[1024], path[1100], err[256] = "";
    snprintf(dir, sizeof dir, "%s/journal", fz_dir());
    mkdir(dir, 0700);
    for (int i = 0; i < 2; i++) { /* fresh segments of the right size: not written through */
        snprintf(path, sizeof path, "%s/journal.%d", dir, i);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || pwrite(fd, zero, SEG, 0) != (ssize_t)SEG)
            fz_die("journal", path);
        close(fd);
    }
    cpm_journal_t *j = cpm_journal_open(dir, SEG, id, err, sizeof err);
    if (!j)
        fz_die("journal", err);
    /* records: [seq step][kind: bit 1 switch segments first][len][payload] */
    size_t off = 0;
    uint64_t seq = 0;
    uint8_t payload[256];
    int nrec = size ? data[off++] % 24 : 0;
    for (int r = 0; r < nrec && size - off >= 3; r++) {
        seq += 1 + data[off] % 3;
        uint8_t kind = data[off + 1], len = data[off + 2];
        off += 3;
        memset(payload, 0, sizeof payload);
        if (len > 0)
            payload[0] = (uint8_t)seq; /* what on_record checks */
        for (size_t k = 1; k < len && off < size; k++)
            payload[k] = data[off++];
        if ((kind & 2) && cpm_journal_can_switch(j) && cpm_journal_switch(j) == 0)
            cpm_journal_release(j);
        int rc = cpm_journal_append(j, seq, payload, len, false);
        if (rc != 0 && rc != CPM_E_STORE_FULL)
            fz_die("journal", "append");
    }
    cpm_journal_destroy(&j);
    /* damage: [segment][offset hi][offset lo][xor] (a byte of the id: a
     * record of another journal), or a cut: xor 0 */
    while (size - off >= 4) {
        snprintf(path, sizeof path, "%s/journal.%d", dir, data[off] & 1);
        off_t at = (off_t)(((size_t)data[off + 1] << 8 | data[off + 2]) * 3 % SEG);
        uint8_t x = data[off + 3], b = 0;
        off += 4;
        int fd = open(path, O_RDWR);
        if (fd < 0)
            fz_die("journal", path);
        if (x == 0) {
            if (ftruncate(fd, at) != 0)
                fz_die("journal", "cut");
        } else if (pread(fd, &b, 1, at) == 1) {
            b ^= x;
            if (pwrite(fd, &b, 1, at) != 1)
                fz_die("journal", "damage");
        }
        close(fd);
    }
    seen_t s = {0};
    uint64_t last = 0;
    size_t beyond = 0;
    int rc = cpm_journal_replay(dir, id, 0, on_record, &s, &last, &beyond, err, sizeof err);
    if (rc != 0)
        fz_die("journal", err);
    if (last != s.last)
        fz_die("journal", "the last seq given is not the last applied");
    return 0;
}
