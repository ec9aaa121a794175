/* totp: the second factor: RFC 6238 TOTP (HMAC-SHA1, 30 s, 6 digits), base32
 * secrets, otpauth URIs, QR codes as SVG (libqrencode) and recovery codes. */
#ifndef YM_TOTP_H
#define YM_TOTP_H
#include <stddef.h>
#include <stdint.h>

/* A new random 160-bit secret, base32 (RFC 4648, no padding), 32 chars + NUL. */
int ym_totp_secret_new(char *out, size_t len);
/* The 6-digit code for a time step (unix seconds / 30). 0 ok, -1 bad secret. */
int ym_totp_code(const char *b32secret, int64_t step, char out[7]);
/* Accepts the code for steps now-1..now+1 that is later than last_step (so a code is
 * never accepted twice). 1 ok (matched step in *matched), 0 wrong or replayed, -1 bad secret. */
int ym_totp_verify(const char *b32secret, const char *code, int64_t now_ms, int64_t last_step,
                   int64_t *matched);
/* otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
 * (percent-encoded). malloc'ed. */
char *ym_totp_uri(const char *issuer, const char *account, const char *b32secret);
/* QR code of text as a standalone SVG document (malloc'ed), NULL on error. */
char *ym_qr_svg(const char *text);
/* n recovery codes "xxxx-xxxx-xxxx" (lowercase base32 letters/digits), each 15 chars + NUL. */
int ym_recovery_codes_new(char (*codes)[16], int n);

#endif
