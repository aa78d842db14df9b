/* cpmctl inspector: the inspector's device (ctl_inspector.c: offline
 * commands; ctl_inspector_sync.c: checkout and sync over the mesh). */
#ifndef CTL_INSPECTOR_H
#define CTL_INSPECTOR_H

#include "ctl.h"
#include "field_device.h"

/* Who the device belongs to and where it is (no socket, no registry). */
typedef struct {
    char home[1024];
    char as[128];
    const char *device_dir; /* --device DIR, or NULL for <home>/field/<as> */
    bool json;
} ctl_field_t;

/* Resolve home and identity id from the global options. 0 or -1 (printed). */
int ctl_field_who(ctl_field_t *w, const ctl_opts_t *o);

int ctl_inspector_checkout(const ctl_opts_t *o, const ctl_field_t *w, int argc, char **argv);
int ctl_inspector_sync(const ctl_opts_t *o, const ctl_field_t *w, int argc, char **argv);

#endif
