/* cpm_evqueue: see cpm_evqueue.h. */
#include "cpm_evqueue.h"

#include <stdio.h>
#include <stdlib.h>

struct cpm_evqueue {
    cpm_evq_item_t *items;
    size_t n, cap;
    bool bad;
};

cpm_evqueue_t *cpm_evqueue_new(size_t cap)
{
    cpm_evqueue_t *q = calloc(1, sizeof *q);
    if (!q || !(q->items = calloc(cap ? cap : 1, sizeof *q->items))) {
        free(q);
        return NULL;
    }
    q->cap = cap;
    return q;
}

void cpm_evqueue_destroy(cpm_evqueue_t **p)
{
    if (!p || !*p)
        return;
    cpm_evqueue_clear(*p);
    free((*p)->items);
    free(*p);
    *p = NULL;
}

void cpm_evqueue_push(cpm_evqueue_t *q, const char *node, const char *service, const Cpm__Event *ev)
{
    if (q->bad || q->n >= q->cap) {
        q->bad = true; /* the cursor moved past it: start again from the stored cursors */
        return;
    }
    /* The subscriber lends ev for the call only: a deep copy through the wire form. */
    size_t len = protobuf_c_message_get_packed_size(&ev->base);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf)
        protobuf_c_message_pack(&ev->base, buf);
    cpm_evq_item_t *x = &q->items[q->n];
    x->ev = buf ? cpm__event__unpack(NULL, len, buf) : NULL;
    free(buf);
    if (!x->ev) {
        q->bad = true;
        return;
    }
    snprintf(x->node, sizeof x->node, "%s", node);
    snprintf(x->service, sizeof x->service, "%s", service);
    q->n++;
}

size_t cpm_evqueue_len(const cpm_evqueue_t *q)
{
    return q->n;
}

bool cpm_evqueue_bad(const cpm_evqueue_t *q)
{
    return q->bad;
}

const cpm_evq_item_t *cpm_evqueue_at(const cpm_evqueue_t *q, size_t i)
{
    return i < q->n ? &q->items[i] : NULL;
}

void cpm_evqueue_clear(cpm_evqueue_t *q)
{
    for (size_t i = 0; i < q->n; i++)
        cpm__event__free_unpacked(q->items[i].ev, NULL);
    q->n = 0;
    q->bad = false;
}
