/* gw_open311_cats: the deployment's complaint categories, read from the
 * `categories:` list of routing.yaml (slug, name_vi, name_en), in file
 * order: they are Open311's services. Only that list is read (libyaml
 * events); the rest of the file is routing's and intake's to check. */
#include "gw_open311_int.h"

#include "cpm_text.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    gw_open311_t *o;
    int depth;       /* mapping/sequence nesting */
    bool in_cats;    /* inside the top-level categories: sequence */
    int cats_depth;  /* depth of that sequence */
    bool want_value; /* a key of a category entry was read */
    char key[32];
    bool top_key; /* the next scalar at depth 1 is a top-level key */
    bool next_is_cats;
    o311_cat_t cur;
} walk_t;

static void scalar(walk_t *w, const char *v)
{
    if (w->depth == 1 && !w->in_cats) {
        if (w->top_key)
            w->next_is_cats = !strcmp(v, "categories");
        w->top_key = !w->top_key;
        return;
    }
    if (!w->in_cats || w->depth != w->cats_depth + 1)
        return;
    if (!w->want_value) {
        snprintf(w->key, sizeof w->key, "%s", v);
        w->want_value = true;
        return;
    }
    w->want_value = false;
    if (!strcmp(w->key, "slug"))
        snprintf(w->cur.slug, sizeof w->cur.slug, "%s", v);
    else if (!strcmp(w->key, "name_vi"))
        snprintf(w->cur.name_vi, sizeof w->cur.name_vi, "%s", v);
    else if (!strcmp(w->key, "name_en"))
        snprintf(w->cur.name_en, sizeof w->cur.name_en, "%s", v);
}

int o311_cats_load(gw_open311_t *o, const char *rules_path, cpm_error_t *err)
{
    FILE *f = rules_path ? fopen(rules_path, "rb") : NULL;
    if (!f)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "rules", "cannot read the rules file %s",
                             rules_path ? rules_path : "(none)");
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    walk_t w = {.o = o, .top_key = true};
    o->n_cats = 0;
    int rc = 0;
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = cpm_error_set(err, CPM_E_INVALID, "rules", "%s is not YAML", rules_path);
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (w.depth == 1 && !w.in_cats) {
                if (w.next_is_cats && ev.type == YAML_SEQUENCE_START_EVENT)
                    w.in_cats = true, w.cats_depth = w.depth + 1;
                w.top_key = true; /* the value was a collection */
                w.next_is_cats = false;
            }
            if (w.in_cats && w.depth == w.cats_depth + 1)
                w.want_value = false; /* a key whose value is a collection */
            w.depth++;
            if (w.in_cats && w.depth == w.cats_depth + 1) {
                memset(&w.cur, 0, sizeof w.cur);
                w.want_value = false;
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (w.in_cats && w.depth == w.cats_depth + 1 && w.cur.slug[0]) {
                if (!cpm_text_slug_valid(w.cur.slug))
                    rc = cpm_error_set(err, CPM_E_INVALID, "rules",
                                       "categories[%zu].slug is not a slug", o->n_cats);
                else if (o->n_cats < O311_CATS_MAX)
                    o->cats[o->n_cats++] = w.cur;
            }
            w.depth--;
            if (w.in_cats && w.depth < w.cats_depth)
                w.in_cats = false;
            break;
        case YAML_SCALAR_EVENT:
            scalar(&w, (const char *)ev.data.scalar.value);
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    fclose(f);
    if (rc == 0 && o->n_cats == 0)
        rc = cpm_error_set(err, CPM_E_INVALID, "rules", "%s lists no categories", rules_path);
    return rc;
}

const o311_cat_t *o311_cat(const gw_open311_t *o, const char *slug)
{
    for (size_t i = 0; i < o->n_cats; i++)
        if (!strcmp(o->cats[i].slug, slug))
            return &o->cats[i];
    return NULL;
}
