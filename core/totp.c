/* totp: the second factor: RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits), base32
 * secrets, otpauth URIs, QR codes rendered as SVG and one-time recovery codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <qrencode.h>

#include "totp.h"

#define SECRET_BYTES 20      /* 160 bits, what RFC 4226 recommends and apps expect */
#define SECRET_MAX 64        /* longest key we accept from storage */
#define STEP_MS 30000
#define QUIET 4              /* modules of white border a scanner needs */

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* ---- base32 (RFC 4648) ------------------------------------------------------------ */

/* Unpadded encoding of n bytes; out needs (8n+4)/5 + 1 bytes. */
static void b32_encode(const unsigned char *in, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = B32[(acc >> (bits - 5)) & 0x1F];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = B32[(acc << (5 - bits)) & 0x1F];
    out[o] = '\0';
}

static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= '2' && c <= '7') return c - '2' + 26;
    return -1;
}

/* Case-insensitive; spaces and '=' are skipped because apps and users group the
 * secret in blocks. Returns the byte count, or -1 for a bad character, empty input
 * or a key longer than cap. Leftover bits (< 8) are dropped. */
static int b32_decode(const char *s, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '=')
            continue;
        int v = b32_value(*s);
        if (v < 0)
            return -1;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (n == cap)
                return -1;
            out[n++] = (unsigned char)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return n ? (int)n : -1;
}

int ym_totp_secret_new(char *out, size_t len)
{
    unsigned char key[SECRET_BYTES];
    if (!out || len < (SECRET_BYTES * 8 + 4) / 5 + 1)
        return -1;
    if (RAND_bytes(key, sizeof key) != 1)
        return -1;
    b32_encode(key, sizeof key, out);
    OPENSSL_cleanse(key, sizeof key);
    return 0;
}

/* ---- HOTP/TOTP ------------------------------------------------------------------- */

/* RFC 4226 §5.3: HMAC-SHA1 over the 8-byte big-endian counter, dynamic truncation. */
static int hotp(const unsigned char *key, size_t keylen, uint64_t counter, char out[7])
{
    unsigned char msg[8], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    for (int i = 7; i >= 0; i--, counter >>= 8)
        msg[i] = (unsigned char)(counter & 0xFF);
    if (!HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof msg, md, &mdlen) || mdlen != 20)
        return -1;
    unsigned off = md[19] & 0x0F;
    uint32_t bin = ((uint32_t)(md[off] & 0x7F) << 24) | ((uint32_t)md[off + 1] << 16) |
                   ((uint32_t)md[off + 2] << 8) | md[off + 3];
    snprintf(out, 7, "%06u", (unsigned)(bin % 1000000));
    OPENSSL_cleanse(md, sizeof md);
    return 0;
}

int ym_totp_code(const char *b32secret, int64_t step, char out[7])
{
    unsigned char key[SECRET_MAX];
    int n = b32secret ? b32_decode(b32secret, key, sizeof key) : -1;
    if (n < 0 || step < 0)
        return -1;
    int rc = hotp(key, (size_t)n, (uint64_t)step, out);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

static int six_digits(const char *code)
{
    if (!code)
        return 0;
    for (int i = 0; i < 6; i++)
        if (code[i] < '0' || code[i] > '9')
            return 0;
    return code[6] == '\0';
}

/* Floor division, so times before 1970 still land in the right step. */
static int64_t step_of(int64_t now_ms)
{
    int64_t q = now_ms / STEP_MS;
    return (now_ms % STEP_MS < 0) ? q - 1 : q;
}

int ym_totp_verify(const char *b32secret, const char *code, int64_t now_ms, int64_t last_step,
                   int64_t *matched)
{
    unsigned char key[SECRET_MAX];
    int n = b32secret ? b32_decode(b32secret, key, sizeof key) : -1;
    if (n < 0)
        return -1;
    int64_t now = step_of(now_ms), hit = -1;
    /* All three candidates are computed and compared in constant time, so timing
     * tells nothing about which step (if any) matched. */
    for (int64_t s = now - 1; s <= now + 1; s++) {
        char want[7];
        if (s < 0 || hotp(key, (size_t)n, (uint64_t)s, want) != 0)
            continue;
        int same = six_digits(code) && CRYPTO_memcmp(want, code, 6) == 0;
        if (same && s > last_step && hit < 0)
            hit = s;
    }
    OPENSSL_cleanse(key, sizeof key);
    if (hit < 0)
        return 0;
    if (matched)
        *matched = hit;
    return 1;
}

/* ---- otpauth URI ----------------------------------------------------------------- */

/* RFC 3986 percent-encoding of every byte outside the unreserved set; UTF-8 names
 * become %E6%9D%8E..., which authenticator apps decode back. */
static void pct_encode(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            fputc((int)c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

/* Closes the memstream; returns its buffer, or NULL (freed) if writing failed. The
 * buffer pointer is read only after fclose, which is when the stream sets it. */
static char *memstream_done(FILE *f, char **buf)
{
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        free(*buf);
        return NULL;
    }
    return *buf;
}

char *ym_totp_uri(const char *issuer, const char *account, const char *b32secret)
{
    if (!account || !b32secret)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int has_issuer = issuer && *issuer;
    fputs("otpauth://totp/", f);
    if (has_issuer) {
        pct_encode(f, issuer);
        fputc(':', f);
    }
    pct_encode(f, account);
    fputs("?secret=", f);
    pct_encode(f, b32secret);
    if (has_issuer) {
        fputs("&issuer=", f);
        pct_encode(f, issuer);
    }
    fputs("&algorithm=SHA1&digits=6&period=30", f);
    return memstream_done(f, &buf);
}

/* ---- QR code as SVG ------------------------------------------------------------- */

/* One "M x y h w v1 h-w z" subpath per horizontal run of dark modules keeps the
 * document small (a typical otpauth code is a few kilobytes). */
static void qr_row_path(FILE *f, const QRcode *qr, int y)
{
    int w = qr->width;
    for (int x = 0; x < w;) {
        if (!(qr->data[y * w + x] & 1)) {
            x++;
            continue;
        }
        int start = x;
        while (x < w && (qr->data[y * w + x] & 1))
            x++;
        fprintf(f, "M%d %dh%dv1h-%dz", start + QUIET, y + QUIET, x - start, x - start);
    }
}

char *ym_qr_svg(const char *text)
{
    if (!text || !*text)
        return NULL;
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        QRcode_free(qr);
        return NULL;
    }
    int n = qr->width + 2 * QUIET;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
               "shape-rendering=\"crispEdges\">", n, n);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"", n, n);
    for (int y = 0; y < qr->width; y++)
        qr_row_path(f, qr, y);
    fputs("\"/></svg>\n", f);
    QRcode_free(qr);
    return memstream_done(f, &buf);
}

/* ---- recovery codes ------------------------------------------------------------- */

/* No i, l, o, 0 or 1: codes are read off paper and typed back. */
static const char RC_ALPHA[] = "abcdefghjkmnpqrstuvwxyz23456789";
#define RC_N (sizeof RC_ALPHA - 1)

/* One uniformly chosen alphabet index; bytes above the largest multiple of the
 * alphabet size are redrawn so no character is favoured. */
static int rc_char(char *out)
{
    const unsigned limit = 256 - 256 % RC_N;
    unsigned char b;
    do {
        if (RAND_bytes(&b, 1) != 1)
            return -1;
    } while (b >= limit);
    *out = RC_ALPHA[b % RC_N];
    return 0;
}

int ym_recovery_codes_new(char (*codes)[16], int n)
{
    if (!codes || n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        /* "xxxx-xxxx-xxxx" is 14 characters; the rest of the 16 is NUL. */
        memset(codes[i], 0, sizeof codes[i]);
        for (int k = 0; k < 14; k++) {
            if (k == 4 || k == 9)
                codes[i][k] = '-';
            else if (rc_char(&codes[i][k]) != 0)
                return -1;
        }
    }
    return 0;
}
