/* cpm_ratelimit: fixed windows of `burst` lines. See cpm_ratelimit.h. */
#include "cpm_ratelimit.h"

#include <stdio.h>

int cpm_ratelimit_allow(cpm_ratelimit_t *r, int64_t now_ms, uint64_t *dropped)
{
    if (r->window_start == 0 || now_ms - r->window_start >= r->window_ms ||
        now_ms < r->window_start) {
        r->window_start = now_ms ? now_ms : 1;
        r->used = 0;
    }
    if (r->used >= r->burst) {
        r->dropped++;
        return 0;
    }
    r->used++;
    if (dropped)
        *dropped = r->dropped;
    r->dropped = 0;
    return 1;
}

const char *cpm_ratelimit_note(uint64_t dropped)
{
    static _Thread_local char buf[64];
    if (dropped == 0)
        return "";
    snprintf(buf, sizeof buf, " (%llu similar lines not logged)", (unsigned long long)dropped);
    return buf;
}
