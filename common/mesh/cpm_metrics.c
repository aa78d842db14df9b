#include "cpm_metrics.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    uint64_t value;
} counter_t;

struct cpm_metrics {
    counter_t *items;
    size_t n, cap;
};

cpm_metrics_t *cpm_metrics_new(void)
{
    return calloc(1, sizeof(cpm_metrics_t));
}

void cpm_metrics_destroy(cpm_metrics_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->n; i++)
        free((*p)->items[i].name);
    free((*p)->items);
    free(*p);
    *p = NULL;
}

static counter_t *find(const cpm_metrics_t *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i].name, name) == 0)
            return &m->items[i];
    return NULL;
}

static _Thread_local int muted;

int cpm_metrics_mute(int on)
{
    int prev = muted;
    muted = on != 0;
    return prev;
}

void cpm_metrics_add(cpm_metrics_t *m, const char *name, uint64_t n)
{
    if (muted)
        return;
    counter_t *c = find(m, name);
    if (!c) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 16;
            counter_t *items = realloc(m->items, cap * sizeof *items);
            if (!items)
                return;
            m->items = items;
            m->cap = cap;
        }
        char *copy = strdup(name);
        if (!copy)
            return;
        c = &m->items[m->n++];
        c->name = copy;
        c->value = 0;
    }
    c->value += n;
}

uint64_t cpm_metrics_get(const cpm_metrics_t *m, const char *name)
{
    const counter_t *c = find(m, name);
    return c ? c->value : 0;
}

size_t cpm_metrics_count(const cpm_metrics_t *m)
{
    return m->n;
}

int cpm_metrics_at(const cpm_metrics_t *m, size_t i, const char **name, uint64_t *value)
{
    if (i >= m->n)
        return -1;
    *name = m->items[i].name;
    *value = m->items[i].value;
    return 0;
}
