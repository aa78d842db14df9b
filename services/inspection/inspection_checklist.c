/* inspection_checklist: see inspection_checklist.h. Read with libyaml's
 * document API (not libcyaml) so that every node keeps its line and a wrong
 * value, not only a wrong shape, is reported where it is. */
#include "inspection_checklist.h"
#include "cpm_text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    char *category;
    Cpm__ChecklistItem **items;
    size_t n;
} template_t;

struct inspection_checklists {
    template_t *t;
    size_t n;
};

typedef struct {
    yaml_document_t *doc;
    const char *path;
    cpm_error_t *err;
} ctx_t;

static int fail(ctx_t *c, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(ctx_t *c, const yaml_node_t *at, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cpm_error_set(c->err, CPM_E_INVALID, "checklists", "%s line %zu: %s", c->path,
                         at ? at->start_mark.line + 1 : 1, msg);
}

static bool code_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* The scalar text of node, or NULL (then err is set) when it is not one. */
static const char *scalar(ctx_t *c, const yaml_node_t *v, const char *what)
{
    if (!v || v->type != YAML_SCALAR_NODE) {
        fail(c, v, "%s must be a text", what);
        return NULL;
    }
    return (const char *)v->data.scalar.value;
}

/* Walk the pairs of mapping m: for each, name and value. */
#define FOR_PAIRS(c, m, K, V)                                                                      \
    for (yaml_node_pair_t *p_ = (m)->data.mapping.pairs.start; p_ < (m)->data.mapping.pairs.top;   \
         p_++)                                                                                     \
        for (yaml_node_t *K = yaml_document_get_node((c)->doc, p_->key),                           \
                         *V = yaml_document_get_node((c)->doc, p_->value);                         \
             K; K = NULL)

static int load_item(ctx_t *c, const yaml_node_t *m, template_t *t)
{
    if (m->type != YAML_MAPPING_NODE)
        return fail(c, m, "an item must be a mapping {code: ..., text: ...}");
    const char *code = NULL, *text = NULL;
    FOR_PAIRS(c, m, k, v)
    {
        const char *name = scalar(c, k, "a key");
        if (!name)
            return CPM_E_INVALID;
        const char **dst = !strcmp(name, "code") ? &code : !strcmp(name, "text") ? &text : NULL;
        if (!dst)
            return fail(c, k, "unknown field %s in an item (code, text)", name);
        if (!(*dst = scalar(c, v, name)))
            return CPM_E_INVALID;
    }
    if (!code || !code_valid(code))
        return fail(c, m, "item code must be 1-64 characters of A-Z a-z 0-9 . _ -");
    if (!text || !*text || strlen(text) > INSPECTION_CHECKLIST_TEXT_MAX ||
        !cpm_text_utf8_valid(text, strlen(text)))
        return fail(c, m, "item %s: text must be 1-%d bytes of UTF-8", code,
                    INSPECTION_CHECKLIST_TEXT_MAX);
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->items[i]->code, code))
            return fail(c, m, "item code %s appears twice in template %s", code, t->category);
    if (t->n >= INSPECTION_CHECKLIST_ITEMS_MAX)
        return fail(c, m, "template %s has more than %d items", t->category,
                    INSPECTION_CHECKLIST_ITEMS_MAX);
    Cpm__ChecklistItem *it = malloc(sizeof *it);
    Cpm__ChecklistItem **items = realloc(t->items, (t->n + 1) * sizeof *items);
    if (items)
        t->items = items;
    if (!it || !items) {
        free(it);
        return CPM_E_INTERNAL;
    }
    cpm__checklist_item__init(it);
    it->code = strdup(code);
    it->text = strdup(text);
    t->items[t->n++] = it;
    return it->code && it->text ? 0 : CPM_E_INTERNAL;
}

static int load_template(ctx_t *c, const yaml_node_t *m, inspection_checklists_t *l)
{
    if (m->type != YAML_MAPPING_NODE)
        return fail(c, m, "a template must be a mapping {category: ..., items: [...]}");
    const char *category = NULL;
    const yaml_node_t *items = NULL;
    FOR_PAIRS(c, m, k, v)
    {
        const char *name = scalar(c, k, "a key");
        if (!name)
            return CPM_E_INVALID;
        if (!strcmp(name, "category")) {
            if (!(category = scalar(c, v, "category")))
                return CPM_E_INVALID;
        } else if (!strcmp(name, "items")) {
            items = v;
        } else {
            return fail(c, k, "unknown field %s in a template (category, items)", name);
        }
    }
    if (!category || !code_valid(category))
        return fail(c, m, "category must be a category slug (or default)");
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->t[i].category, category))
            return fail(c, m, "category %s has two templates", category);
    if (!items || items->type != YAML_SEQUENCE_NODE)
        return fail(c, items ? items : m, "template %s: items must be a list", category);
    if (l->n >= INSPECTION_CHECKLIST_TEMPLATES_MAX)
        return fail(c, m, "more than %d templates", INSPECTION_CHECKLIST_TEMPLATES_MAX);
    template_t *t = realloc(l->t, (l->n + 1) * sizeof *t);
    if (!t)
        return CPM_E_INTERNAL;
    l->t = t;
    t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    if (!(t->category = strdup(category)))
        return CPM_E_INTERNAL;
    for (yaml_node_item_t *i = items->data.sequence.items.start; i < items->data.sequence.items.top;
         i++) {
        int rc = load_item(c, yaml_document_get_node(c->doc, *i), t);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int load_doc(ctx_t *c, inspection_checklists_t *l)
{
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    if (!root)
        return fail(c, NULL, "the file is empty (it needs templates:)");
    if (root->type != YAML_MAPPING_NODE)
        return fail(c, root, "the file must be a mapping with templates:");
    const yaml_node_t *templates = NULL;
    FOR_PAIRS(c, root, k, v)
    {
        const char *name = scalar(c, k, "a key");
        if (!name)
            return CPM_E_INVALID;
        if (strcmp(name, "templates") != 0)
            return fail(c, k, "unknown field %s (templates)", name);
        templates = v;
    }
    if (!templates || templates->type != YAML_SEQUENCE_NODE)
        return fail(c, templates ? templates : root, "templates must be a list");
    for (yaml_node_item_t *i = templates->data.sequence.items.start;
         i < templates->data.sequence.items.top; i++) {
        int rc = load_template(c, yaml_document_get_node(c->doc, *i), l);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int inspection_checklists_load(const char *path, inspection_checklists_t **out, cpm_error_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cpm_error_set(err, errno == ENOENT ? CPM_E_NOT_FOUND : CPM_E_INVALID, "checklists",
                             "%s: %s", path, strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return CPM_E_INTERNAL;
    }
    yaml_parser_set_input_file(&parser, f);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = cpm_error_set(err, CPM_E_INVALID, "checklists", "%s line %zu: %s", path,
                           parser.problem_mark.line + 1,
                           parser.problem ? parser.problem : "not YAML");
        yaml_parser_delete(&parser);
        fclose(f);
        return rc;
    }
    inspection_checklists_t *l = calloc(1, sizeof *l);
    ctx_t c = {&doc, path, err};
    rc = l ? load_doc(&c, l) : CPM_E_INTERNAL;
    if (rc == CPM_E_INTERNAL)
        cpm_error_set(err, rc, "checklists", "%s: out of memory", path);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc != 0)
        inspection_checklists_destroy(&l);
    *out = l;
    return rc;
}

void inspection_checklists_destroy(inspection_checklists_t **p)
{
    if (!p || !*p)
        return;
    inspection_checklists_t *l = *p;
    for (size_t i = 0; i < l->n; i++) {
        for (size_t k = 0; k < l->t[i].n; k++) {
            free(l->t[i].items[k]->code);
            free(l->t[i].items[k]->text);
            free(l->t[i].items[k]);
        }
        free(l->t[i].items);
        free(l->t[i].category);
    }
    free(l->t);
    free(l);
    *p = NULL;
}

Cpm__ChecklistItem **inspection_checklist_for(const inspection_checklists_t *l,
                                              const char *category, size_t *n)
{
    *n = 0;
    const template_t *fallback = NULL;
    for (size_t i = 0; l && i < l->n; i++) {
        if (category && !strcmp(l->t[i].category, category)) {
            *n = l->t[i].n;
            return l->t[i].items;
        }
        if (!strcmp(l->t[i].category, "default"))
            fallback = &l->t[i];
    }
    if (fallback)
        *n = fallback->n;
    return fallback ? fallback->items : NULL;
}
