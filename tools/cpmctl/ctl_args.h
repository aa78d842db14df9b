/* ctl_args: option parsing shared by cpmctl's commands. Every command takes
 * --json, --home DIR, --as ID and --help anywhere on its line. */
#ifndef CTL_ARGS_H
#define CTL_ARGS_H

#include "ctl.h"

#include <getopt.h>
#include <stdint.h>

#define CTL_COMMON_LONGOPTS                                                                        \
    {"json", no_argument, 0, 1001}, {"home", required_argument, 0, 1002},                          \
        {"as", required_argument, 0, 1003},                                                        \
    {                                                                                              \
        "help", no_argument, 0, 'h'                                                                \
    }

/* Handle a common option; 1 if it was one, 0 if not. */
int ctl_common_opt(int opt, ctl_opts_t *o);
/* getopt_long over a command's argv (argv[0] is the command's name). Returns
 * 0 when done, 'h' on --help, '?' on a bad option, or the option. */
int ctl_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/* "2026-03-15", "2026-03-15T09:30[:00]" (Vietnam time, UTC+7) or Unix ms.
 * 0 or -1. */
int ctl_parse_time(const char *s, int64_t *ms);
/* Print a usage text for a command and return 0 (for --help) or 2. */
int ctl_usage(const char *text, int code);

#endif
