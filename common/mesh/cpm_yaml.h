/* cpm_yaml: loading a YAML file with a libcyaml schema, with libcyaml's
 * diagnostics turned into one sentence ("near line 7: unknown field x (in
 * 'members')"). The line is approximate: libcyaml marks the last event it
 * read, hence "near". */
#ifndef CPM_YAML_H
#define CPM_YAML_H

#include "cpm_err.h"

#include <cyaml/cyaml.h>
#include <stddef.h>

/* 0 with *out set (NULL for an empty file), or -1 with why filled. */
CPM_MUST_CHECK int cpm_yaml_load(const char *path, const cyaml_schema_value_t *schema, void **out,
                                 char *why, size_t whylen);
/* Free what cpm_yaml_load returned (NULL is fine). */
void cpm_yaml_free(const cyaml_schema_value_t *schema, void *data);

#endif
