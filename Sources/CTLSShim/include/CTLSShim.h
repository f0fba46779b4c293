// C side of Sluice's TLS: wrappers for OpenSSL's function-like macros (which
// Swift does not import), the SNI and ALPN callbacks (run inside OpenSSL
// during a handshake, so they stay in C and allocate nothing), and I/O calls
// that fold SSL_get_error into one small result code.
#pragma once
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

int sl_tls_ctx_set_min_tls12(SSL_CTX *ctx);
int sl_tls_ctx_set_max_tls13(SSL_CTX *ctx);
int sl_tls_set_sni(SSL *ssl, const char *name);
long sl_tls_ctx_set_session_cache_server(SSL_CTX *ctx);

/// Options every Sluice context gets: no compression or renegotiation, no
/// passphrase prompt, partial writes from a moving buffer, record buffers
/// released while a connection is idle, and read-ahead.
void sl_tls_ctx_defaults(SSL_CTX *ctx);
/// Server side: modern TLS 1.2 ciphers, server preference, a session cache
/// and tickets for resumption, ALPN that selects http/1.1, a client's EOF
/// without close_notify read as EOF.
int sl_tls_ctx_server_setup(SSL_CTX *ctx);
/// Adds SNI alternatives to a default server context: `names[i]` selects
/// `ctxs[i]` (exact, or "*.example.com" for one label). The table is copied
/// and owned by `ctx` (freed with it; each alternative context is up-ref'd).
int sl_tls_ctx_set_sni_table(SSL_CTX *ctx, const char *const *names, SSL_CTX *const *ctxs, int count);

/// Result codes of the I/O calls below.
enum {
    SL_TLS_OK = 0,
    SL_TLS_WANT_READ = 1,
    SL_TLS_WANT_WRITE = 2,
    SL_TLS_CLOSED = 3,  /* clean close (close_notify or EOF) */
    SL_TLS_ERROR = 4
};

SSL *sl_tls_new(SSL_CTX *ctx, int fd, int server);
/// Drives the handshake: SL_TLS_OK when complete.
int sl_tls_handshake(SSL *ssl);
/// Reads up to `len` bytes; the count goes to *n on SL_TLS_OK.
int sl_tls_read(SSL *ssl, void *buf, int len, int *n);
/// Writes up to `len` bytes (partial writes allowed); the count goes to *n.
int sl_tls_write(SSL *ssl, const void *buf, int len, int *n);
/// Frees; on a graceful close, first sends close_notify (without waiting for the peer's).
void sl_tls_free(SSL *ssl, int graceful);
/// Whether OpenSSL holds input not yet handed out (records or plaintext).
int sl_tls_has_pending(SSL *ssl);
/// The first OpenSSL error of the last failed call, or a verify result, as text.
void sl_tls_last_error(SSL *ssl, char *out, int cap);
/// Client side: verify the peer against `host` (a DNS name or an IP literal).
int sl_tls_verify_host(SSL *ssl, const char *host);
/// Bytes read from the socket so far (0: the peer sent nothing).
unsigned long sl_tls_bytes_read(SSL *ssl);
