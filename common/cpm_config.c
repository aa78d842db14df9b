/* cpm_config: load a service's YAML configuration with libcyaml.
 *
 * Every field is optional to libcyaml (pointers stay NULL when absent) so that
 * this file, not the parser, decides what is required and can name the field
 * in one sentence. Unknown keys are rejected by libcyaml; its log is captured
 * to say which key and on which line. */
#include "cpm_config.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *node, *service, *data_dir, *registry, *root_public, *identity, *rules, *bind, *pub_bind;
    uint32_t *max_skew_s, *map_size_mb, *batch_max;
} y_config_t;

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
#define STR(key) CYAML_FIELD_STRING_PTR(#key, OPT, y_config_t, key, 0, CYAML_UNLIMITED)
#define NUM(key) CYAML_FIELD_UINT_PTR(#key, OPT, y_config_t, key)

static const cyaml_schema_field_t config_fields[] = {
    STR(node),        STR(service),   STR(data_dir),   STR(registry), STR(root_public),
    STR(identity),    STR(rules),     STR(bind),       STR(pub_bind), NUM(max_skew_s),
    NUM(map_size_mb), NUM(batch_max), CYAML_FIELD_END,
};
static const cyaml_schema_value_t config_top = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, y_config_t, config_fields),
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* libcyaml reports a failure as a message then a backtrace, innermost first;
 * keep the message, the first line number and the innermost field name. The
 * line is approximate (libcyaml marks the last event it read), hence "near". */
typedef struct {
    char msg[256];
    char field[64];
    int line;
} yaml_diag_t;

static void capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    yaml_diag_t *d = ctx;
    char text[200];
    if (level < CYAML_LOG_ERROR)
        return;
    vsnprintf(text, sizeof text, fmt, args);
    text[strcspn(text, "\n")] = 0;
    const char *body = strncmp(text, "Load: ", 6) == 0 ? text + 6 : text;
    const char *l = strstr(body, "(line: ");
    if (l && d->line == 0)
        d->line = atoi(l + 7);
    const char *f = strstr(body, "mapping field '");
    if (f && !d->field[0])
        snprintf(d->field, sizeof d->field, "%.*s", (int)strcspn(f + 15, "'"), f + 15);
    if (d->msg[0] || strncmp(body, "Backtrace", 9) == 0 || strncmp(body, "  in ", 5) == 0)
        return;
    if (strncmp(body, "Unexpected key: ", 16) == 0)
        snprintf(d->msg, sizeof d->msg, "unknown field %s", body + 16);
    else
        snprintf(d->msg, sizeof d->msg, "%s", body);
}

/* "near line 7: <message> (in 'max_skew_s')" */
static void describe(const yaml_diag_t *d, cyaml_err_t rc, char *out, size_t n)
{
    char where[32] = "", in[80] = "";
    if (d->line > 0)
        snprintf(where, sizeof where, "near line %d: ", d->line);
    if (d->field[0])
        snprintf(in, sizeof in, " (in '%s')", d->field);
    snprintf(out, n, "%s%s%s", where, d->msg[0] ? d->msg : cyaml_strerror(rc), in);
}

/* An absolute path stays; a relative one is joined to dir. */
static char *resolve(const char *dir, const char *p)
{
    char *out = NULL;
    if (!p)
        return NULL;
    if (p[0] == '/')
        return strdup(p);
    if (asprintf(&out, "%s/%s", dir, p) < 0)
        return NULL;
    return out;
}

static bool blank(const char *s)
{
    return !s || !s[0];
}

static const char *missing_field(const y_config_t *y)
{
    const char *names[] = {"node", "service", "data_dir", "registry", "root_public", "identity"};
    const char *vals[] = {y->node,     y->service,     y->data_dir,
                          y->registry, y->root_public, y->identity};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (blank(vals[i]))
            return names[i];
    return NULL;
}

/* Checks y and copies it into c; paths are resolved against dir. */
static int fill(cpm_config_t *c, const y_config_t *y, const char *dir, const char *path, char *err,
                size_t errlen)
{
    const char *missing = missing_field(y);
    if (missing) {
        set_err(err, errlen, "config %s: missing required field %s", path, missing);
        return -1;
    }
    bool needs_rules = strcmp(y->service, "intake") == 0 || strcmp(y->service, "routing") == 0;
    if (!needs_rules && strcmp(y->service, "inspection") != 0) {
        set_err(err, errlen,
                "config %s: service '%s' is unknown; it must be intake, routing or inspection",
                path, y->service);
        return -1;
    }
    if (needs_rules && blank(y->rules)) {
        set_err(err, errlen, "config %s: missing required field rules (service %s needs it)", path,
                y->service);
        return -1;
    }
    const struct {
        const char *name;
        const uint32_t *val;
        uint32_t def;
        uint32_t *dst;
    } nums[] = {{"max_skew_s", y->max_skew_s, 300, &c->max_skew_s},
                {"map_size_mb", y->map_size_mb, 1024, &c->map_size_mb},
                {"batch_max", y->batch_max, 512, &c->batch_max}};
    for (size_t i = 0; i < 3; i++) {
        if (nums[i].val && *nums[i].val == 0) {
            set_err(err, errlen, "config %s: %s must be greater than 0", path, nums[i].name);
            return -1;
        }
        *nums[i].dst = nums[i].val ? *nums[i].val : nums[i].def;
    }
    c->node = strdup(y->node);
    c->service = strdup(y->service);
    c->data_dir = resolve(dir, y->data_dir);
    c->registry = resolve(dir, y->registry);
    c->root_public = resolve(dir, y->root_public);
    c->identity = resolve(dir, y->identity);
    c->rules = resolve(dir, blank(y->rules) ? NULL : y->rules);
    c->bind = blank(y->bind) ? NULL : strdup(y->bind);
    c->pub_bind = blank(y->pub_bind) ? NULL : strdup(y->pub_bind);
    if (!c->node || !c->service || !c->data_dir || !c->registry || !c->root_public ||
        !c->identity || (!blank(y->rules) && !c->rules) || (!blank(y->bind) && !c->bind) ||
        (!blank(y->pub_bind) && !c->pub_bind)) {
        set_err(err, errlen, "config %s: out of memory", path);
        return -1;
    }
    return 0;
}

/* The folder holding path, as an absolute path; NULL on failure. */
static char *folder_of(const char *path)
{
    char *abs = realpath(path, NULL);
    if (!abs)
        return NULL;
    char *slash = strrchr(abs, '/');
    if (slash == abs)
        slash[1] = 0; /* the file is in "/" */
    else
        *slash = 0;
    return abs;
}

cpm_config_t *cpm_config_load(const char *path, char *err, size_t errlen)
{
    if (!path) {
        set_err(err, errlen, "config: no path given");
        return NULL;
    }
    char *dir = folder_of(path);
    if (!dir || access(path, R_OK) != 0) {
        set_err(err, errlen, "config %s: cannot read (%s)", path, strerror(errno));
        free(dir);
        return NULL;
    }
    yaml_diag_t diag = {0};
    const cyaml_config_t cfg = {
        .log_fn = capture_log,
        .log_ctx = &diag,
        .mem_fn = cyaml_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_DEFAULT,
    };
    y_config_t *y = NULL;
    cyaml_err_t rc = cyaml_load_file(path, &cfg, &config_top, (cyaml_data_t **)&y, NULL);
    cpm_config_t *c = NULL;
    if (rc != CYAML_OK) {
        char why[400];
        describe(&diag, rc, why, sizeof why);
        set_err(err, errlen, "config %s: %s", path, why);
    } else if (!y) {
        set_err(err, errlen, "config %s: the file is empty; missing required field node", path);
    } else if ((c = calloc(1, sizeof *c)) == NULL) {
        set_err(err, errlen, "config %s: out of memory", path);
    } else if (fill(c, y, dir, path, err, errlen) != 0) {
        cpm_config_destroy(&c);
    }
    cyaml_free(&cfg, &config_top, y, 0);
    free(dir);
    return c;
}

void cpm_config_destroy(cpm_config_t **p)
{
    if (!p || !*p)
        return;
    cpm_config_t *c = *p;
    free(c->node);
    free(c->service);
    free(c->data_dir);
    free(c->registry);
    free(c->root_public);
    free(c->identity);
    free(c->rules);
    free(c->bind);
    free(c->pub_bind);
    free(c);
    *p = NULL;
}
