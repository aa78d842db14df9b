#include "cpm_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libcyaml reports a failure as a message then a backtrace, innermost first;
 * keep the message, the first line number and the innermost field name. */
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

static const cyaml_config_t base_config = {
    .mem_fn = cyaml_mem,
    .log_level = CYAML_LOG_ERROR,
    .flags = CYAML_CFG_DEFAULT,
};

int cpm_yaml_load(const char *path, const cyaml_schema_value_t *schema, void **out, char *why,
                  size_t whylen)
{
    yaml_diag_t d = {0};
    cyaml_config_t cfg = base_config;
    cfg.log_fn = capture_log;
    cfg.log_ctx = &d;
    *out = NULL;
    cyaml_err_t rc = cyaml_load_file(path, &cfg, schema, (cyaml_data_t **)out, NULL);
    if (rc == CYAML_OK)
        return 0;
    char where[32] = "", in[80] = "";
    if (d.line > 0)
        snprintf(where, sizeof where, "near line %d: ", d.line);
    if (d.field[0])
        snprintf(in, sizeof in, " (in '%s')", d.field);
    snprintf(why, whylen, "%s%s%s", where, d.msg[0] ? d.msg : cyaml_strerror(rc), in);
    *out = NULL;
    return -1;
}

void cpm_yaml_free(const cyaml_schema_value_t *schema, void *data)
{
    if (data)
        cyaml_free(&base_config, schema, data, 0);
}
