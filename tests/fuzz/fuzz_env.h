/* fuzz_env: what the libFuzzer harnesses of tests/fuzz share.
 *
 * Everything is made once per process, on first use, from the checked-in
 * protocol test vectors (tests/vectors): the registry signed by the vectors'
 * root key, the members' identities (derived from their seeds, so a harness
 * may sign as any of them), the vectors' "now", and the Hanoi rules of
 * deploy/hanoi. Stores live in one temporary folder that is removed at exit.
 * Nothing here is used by the services: it exists so that each harness is a
 * few lines around the entry point it fuzzes. */
#ifndef FUZZ_ENV_H
#define FUZZ_ENV_H

#include "cpm_effects.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_rules.h"
#include "cpm_store.h"

#include <stddef.h>
#include <stdint.h>

#define FZ_AREA "hn.d.hoan-kiem" /* area node: intake (prefix HK) + inspection */
#define FZ_CITY "hn.doit"        /* city node: intake + routing */
#define FZ_OPERATOR "hn.op.lan"  /* a hotline operator */
#define FZ_TICKET "HK-00000001"  /* a case known to the routing and inspection stores */

/* The vectors' registry (borrowed, lives until exit). */
const cpm_registry_t *fz_registry(void);
/* The vectors' root public key and identity (root signs registries). */
const cpm_identity_t *fz_root(void);
/* The identity of a member of the vectors, or NULL. */
const cpm_identity_t *fz_identity(const char *member);
/* The vectors' clock: the frames of envelopes.json are fresh at this time. */
int64_t fz_now_ms(void);
/* deploy/hanoi/routing.yaml. */
const cpm_rules_t *fz_rules(void);

/* A fresh store named tag in the process's temporary folder (each tag once). */
cpm_store_t *fz_store(const char *tag, const char *const *dbs);
/* Effects that write the outbox and the event log for sender self
 * ("<member>/<service>") the way a service's effects do. */
cpm_effects_t fz_effects(cpm_store_t *st, const char *self);
/* The source tree (for files the harnesses read, like deploy/hanoi). */
const char *fz_source_dir(void);
/* The temporary folder (for files the harnesses write). */
const char *fz_dir(void);
/* Write data to <fz_dir()>/<name> (replacing it); the path goes to out. 0 or -1. */
int fz_write_file(const char *name, const uint8_t *data, size_t len, char out[1024]);

/* The store of routing (FZ_CITY) and of inspection (FZ_AREA), each holding
 * case FZ_TICKET, committed. */
cpm_store_t *fz_routing_store(void);
cpm_store_t *fz_inspection_store(void);

/* Die with a message when a harness's own setup fails (not a finding). */
void fz_die(const char *what, const char *why);

#endif
