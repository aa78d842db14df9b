/* ctl: what every cpmctl command shares: where the mesh's files are, who we
 * are, and a signed request/reply over a CURVE link.
 *
 * Files come from the cpmesh home: --home DIR, else $CPMESH_HOME, else
 * ~/.cpmesh (what ./deploy/local/up writes):
 *   DIR/registry.signed   the signed registry
 *   DIR/keys/root.public  the city's root public key
 *   DIR/keys/<id>.secret  identities; --as ID (or $CPMESH_AS, or the id in
 *                         DIR/identity) picks the one to sign with. */
#ifndef CTL_H
#define CTL_H

#include "cpm_client.h"
#include "cpm_envelope.h"
#include "cpm_err.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_verifier.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct {
    char home[1024];
    char as[128];
    bool json;
    int timeout_ms;
    cpm_identity_t id;
    cpm_registry_t *reg;
    void *zctx;
    cpm_client_t *client; /* requests go through it (c->timeout_ms each) */
} ctl_t;

/* Parsed global options; argv is left with the command's own arguments. */
typedef struct {
    const char *home;
    const char *as;
    bool json;
    int timeout_ms; /* 0: the command's default */
} ctl_opts_t;

/* Resolve the home folder into out. */
void ctl_home(const char *opt_home, char *out, size_t n);
/* Load home, identity and registry. 0 or -1 (message printed). */
int ctl_open(ctl_t *c, const ctl_opts_t *o);
/* The same with an explicit identity id (NULL: the default). */
int ctl_open_as(ctl_t *c, const ctl_opts_t *o, const char *as);
void ctl_close(ctl_t *c);

/* Print an error the way every command does (text or JSON); returns exit 1. */
int ctl_fail(const ctl_t *c, bool json, const cpm_error_t *e);
/* Print a JSON value (steals the reference). */
void ctl_print_json(json_t *v);
/* Whether ctl_print_json was given NULL (main then exits 1). */
bool ctl_json_failed(void);
/* Text that came from the network, made safe to print: ctl_safe escapes
 * control characters, escape codes and invalid UTF-8 (cpm_text_escape) for
 * a terminal; ctl_utf8 only replaces invalid UTF-8 (as \xNN), for JSON,
 * whose encoder escapes control characters itself and refuses invalid UTF-8.
 * Both return s itself or one of 8 rotating static buffers: at most 8 uses
 * per printed line. NULL reads as "". */
const char *ctl_safe(const char *s);
const char *ctl_utf8(const char *s);
/* "2026-03-15 16:00:00 +07" (Vietnam time, Asia/Ho_Chi_Minh) from ms, or "-"
 * for 0: how deadlines are shown (ctl_cases.c). */
const char *ctl_time_vn(int64_t ms, char buf[40]);
/* "2026-03-15T09:00:00.000Z" from ms, or "-" for 0. */
const char *ctl_time(int64_t ms, char buf[40]);
/* An amount as people read it: "1.500.000 VND". */
const char *ctl_vnd(int64_t v, char buf[40]);

/* Commands: return the process exit code. */
int ctl_cmd_submit(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_consult(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_status(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_cases(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_case(const ctl_opts_t *o, int argc, char **argv);
/* The status of ticket from the city's routing service, asked as the
 * caller (the public view with code, else what the caller may see); NULL
 * with err. Free with cpm__status_reply__free_unpacked. (ctl_case.c) */
Cpm__StatusReply *ctl_query_status(ctl_t *c, const char *ticket, const char *code,
                                   cpm_error_t *err);
int ctl_cmd_case_explain(const ctl_opts_t *o, int argc, char **argv); /* ctl_explain.c */
int ctl_cmd_case_assign(const ctl_opts_t *o, int argc, char **argv);  /* ctl_assign.c */
int ctl_cmd_watch(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_events(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_health(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_keygen(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_registry(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_clusters(const ctl_opts_t *o, int argc, char **argv);
int ctl_cmd_report(const ctl_opts_t *o, int argc, char **argv);     /* ctl_report.c */
int ctl_cmd_inspection(const ctl_opts_t *o, int argc, char **argv); /* ctl_inspection.c */
int ctl_cmd_inspector(const ctl_opts_t *o, int argc, char **argv);  /* ctl_inspector.c */
int ctl_cmd_exchange(const ctl_opts_t *o, int argc, char **argv);   /* ctl_exchange_main.c */
int ctl_cmd_gateway(const ctl_opts_t *o, int argc, char **argv);    /* ctl_gateway.c */
int ctl_cmd_programme(const ctl_opts_t *o, int argc, char **argv);  /* ctl_programme.c */
int ctl_cmd_hotspot(const ctl_opts_t *o, int argc, char **argv);    /* ctl_hotspot.c */
int ctl_cmd_triage(const ctl_opts_t *o, int argc, char **argv);     /* ctl_triage.c */
/* cpmctl case verify: check the signed acts of r's history against c's
 * registry; prints per entry; 0 when all verify, 1 otherwise. */
int ctl_case_verify(ctl_t *c, const Cpm__StatusReply *r);

#endif
