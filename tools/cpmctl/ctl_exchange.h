/* ctl_exchange: `cpmctl exchange <verb>`, the data-sharing exchange. The
 * dispatcher (ctl_exchange_main.c) hands each verb its own arguments
 * (argv[0] is the verb). Each verb's module adds one line to the table there
 * and one declaration here. */
#ifndef CTL_EXCHANGE_H
#define CTL_EXCHANGE_H

#include "ctl.h"

/* ctl_exchange_main.c */
int ctl_exchange_policy(const ctl_opts_t *o, int argc, char **argv);
int ctl_exchange_datasets(const ctl_opts_t *o, int argc, char **argv);
/* ctl_exchange_subs.c */
int ctl_exchange_subscribe(const ctl_opts_t *o, int argc, char **argv);
int ctl_exchange_received(const ctl_opts_t *o, int argc, char **argv);
/* ctl_exchange_query.c */
int ctl_exchange_query(const ctl_opts_t *o, int argc, char **argv);
int ctl_exchange_publish(const ctl_opts_t *o, int argc, char **argv);

/* ctl_exchange_log.c: verify-log | evidence | verify-evidence */
int ctl_exchange_log(const ctl_opts_t *o, int argc, char **argv);

#endif
