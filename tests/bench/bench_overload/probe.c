/* probe: a registered peer's requests, one at a time, timed from just before
 * signing to the verified reply, over the signed link bench_intake uses. */
#include "overload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void record(probe_t *p, int64_t us)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4096;
        int64_t *grown = realloc(p->lat_us, cap * sizeof *grown);
        if (!grown)
            return;
        p->lat_us = grown;
        p->cap = cap;
    }
    p->lat_us[p->n++] = us;
}

static void *probe_run(void *arg)
{
    probe_t *p = arg;
    link_t l;
    char why[256], instance[64], recipient[200];
    snprintf(instance, sizeof instance, "probe.%d.%s", (int)getpid(), p->submit ? "s" : "h");
    const char *svc = p->submit ? "intake" : "routing";
    if (link_open(&l, p->e, svc, instance, why, sizeof why) != 0) {
        fprintf(stderr, "bench_overload: probe %s: %s\n", p->what, why);
        p->failed = 1;
        link_close(&l);
        return NULL;
    }
    snprintf(recipient, sizeof recipient, "%s/%s", p->e->node, svc);
    static atomic_ullong serial;
    while (!atomic_load(p->stop)) {
        Cpm__Complaint c;
        complaint_bufs_t b;
        Cpm__HealthQuery hq = CPM__HEALTH_QUERY__INIT;
        char id[33];
        int64_t t0 = mono_us();
        int rc;
        if (p->submit) {
            make_complaint(p->e, "probe", atomic_fetch_add(&serial, 1), &c, &b);
            rc = link_send(&l, recipient, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &c.base, id);
        } else {
            rc = link_send(&l, recipient, CPM__MSG_TYPE__MSG_HEALTH_QUERY, &hq.base, id);
        }
        if (rc != 0) {
            p->failed = 1;
            break;
        }
        for (;;) {
            int64_t left = p->timeout_ms - (mono_us() - t0) / 1000;
            cpm_msg_t r = {0};
            if (left <= 0 || link_recv(&l, p->e, (int)left, &r, why, sizeof why) != 0) {
                if (mono_us() - t0 >= (int64_t)p->timeout_ms * 1000) {
                    p->lost++;
                    record(p, (int64_t)p->timeout_ms * 1000);
                }
                break;
            }
            int mine = !strcmp(r.env->correlation_id, id);
            if (mine) {
                record(p, mono_us() - t0);
                if (r.env->type == CPM__MSG_TYPE__MSG_ERROR)
                    p->refused++;
            }
            cpm_msg_clear(&r);
            if (mine)
                break;
        }
    }
    link_close(&l);
    return NULL;
}

int probe_start(probe_t *p)
{
    return pthread_create(&p->th, NULL, probe_run, p) == 0 ? 0 : -1;
}

void probe_join(probe_t *p)
{
    pthread_join(p->th, NULL);
}

void probe_free(probe_t *p)
{
    free(p->lat_us);
    p->lat_us = NULL;
    p->n = p->cap = 0;
}

static int cmp_us(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

double probe_pct(probe_t *p, double q)
{
    if (p->n == 0)
        return 0;
    qsort(p->lat_us, p->n, sizeof *p->lat_us, cmp_us);
    size_t i = (size_t)(q * (double)(p->n - 1) + 0.5);
    return (double)p->lat_us[i < p->n ? i : p->n - 1] / 1000.0;
}
