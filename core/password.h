/* password: Argon2id hashing (on the libuv threadpool for requests), the password
 * policy with its list of common passwords, and random tokens. */
#ifndef YM_PASSWORD_H
#define YM_PASSWORD_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "config.h"

typedef struct ym_argon2_params {
    uint32_t m_kib;       /* memory in KiB (OWASP: 19456) */
    uint32_t t;           /* iterations (OWASP: 2) */
    uint32_t p;           /* parallelism (1) */
} ym_argon2_params;

/* From cfg->auth.argon2. */
void ym_argon2_params_from(const ym_config *cfg, ym_argon2_params *out);

/* Encoded "$argon2id$v=19$m=...,t=...,p=...$salt$hash" into out (>= 128 bytes). Blocking:
 * call from the threadpool (or the CLI). 0 ok, -1 error. */
int ym_password_hash(const char *pw, const ym_argon2_params *prm, char *out, size_t outlen);
/* 1 = matches, 0 = does not, -1 = malformed hash. Blocking, constant work for a given hash. */
int ym_password_verify(const char *encoded, const char *pw);

/* Runs hash or verify on the libuv threadpool; done(ud, rc, encoded) on the loop thread.
 * For verify, rc is as ym_password_verify and encoded is NULL; for hash, rc 0/-1 and
 * encoded the new hash. When encoded_in is NULL, verify runs against a fixed dummy
 * hash with the same parameters, so an unknown user costs what a wrong password does. */
typedef void (*ym_password_cb)(void *ud, int rc, const char *encoded);
int ym_password_verify_async(uv_loop_t *loop, const char *encoded_in, const char *pw,
                             const ym_argon2_params *prm, ym_password_cb done, void *ud);
int ym_password_hash_async(uv_loop_t *loop, const char *pw, const ym_argon2_params *prm,
                           ym_password_cb done, void *ud);

/* Policy from cfg->auth.password: minimum length (in characters, UTF-8), required
 * character classes, not in the common list, not the username. 0 ok, else -1 with
 * the reason (Chinese and English in one sentence is not needed: English). */
int ym_password_policy(const ym_config *cfg, const char *pw, const char *username, char *why, size_t len);
/* Loads the common-password list (one per line, case-insensitive); 0 ok, -1 missing. */
int ym_password_common_load(const char *path);
void ym_password_common_free(void);

/* nbytes random bytes (OpenSSL RAND_bytes) as base64url without padding. */
int ym_random_token(char *out, size_t outlen, size_t nbytes);
/* SHA-256 of s as 64 hex characters + NUL. */
void ym_sha256_hex(const void *data, size_t len, char out[65]);

#endif
