#include "CTLSShim.h"
#include <openssl/err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sl_tls_ctx_set_min_tls12(SSL_CTX *ctx) { return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }
int sl_tls_ctx_set_max_tls13(SSL_CTX *ctx) { return (int)SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION); }
int sl_tls_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
long sl_tls_ctx_set_session_cache_server(SSL_CTX *ctx) { return SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER); }

/* Keys are never encrypted for Sluice: without this, OpenSSL would prompt
   on the terminal for a passphrase and block start-up or a reload. */
static int sl_no_password(char *buf, int size, int rwflag, void *u) {
    (void)buf; (void)size; (void)rwflag; (void)u;
    return 0;
}

static __thread int sl_last_errno;

void sl_tls_ctx_defaults(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_default_passwd_cb(ctx, sl_no_password);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    /* One read() takes a record's header and body (and whatever follows)
       instead of two reads per record; the worker reads a TLS connection
       on until want-read, so nothing buffered here is left behind. */
    SSL_CTX_set_read_ahead(ctx, 1);
}

/* ALPN: http/1.1 only for now (h2 would be added here, first). A client that
   offers protocols but not http/1.1 is refused, as nginx does. */
static const unsigned char sl_alpn_protos[] = "\x08http/1.1";

static int sl_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, outlen, sl_alpn_protos, sizeof(sl_alpn_protos) - 1, in, inlen)
        != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

int sl_tls_ctx_server_setup(SSL_CTX *ctx) {
    sl_tls_ctx_defaults(ctx);
    /* A client's EOF without close_notify reads as EOF: an HTTP request is
       never delimited by the close. (Not on the client side: there a
       close-delimited response body must not end on a forged FIN.) */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* TLS 1.2: forward-secret AEAD suites only. TLS 1.3 suites are all modern. */
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) return 0;
    static const unsigned char sid[] = "sluice";
    if (SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1) return 0;
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 20480);
    SSL_CTX_set_alpn_select_cb(ctx, sl_alpn_select, NULL);
    /* One TLS 1.3 ticket per handshake instead of OpenSSL's two: HTTP/1.1
       clients resume one connection at a time, and each ticket is a write. */
    SSL_CTX_set_num_tickets(ctx, 1);
    return 1;
}

/* The SNI table hangs off the default context's ex_data and goes with it. */
struct sl_sni_table {
    int count;
    char **names;
    SSL_CTX **ctxs;
};

static void sl_sni_table_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    struct sl_sni_table *t = ptr;
    if (!t) return;
    for (int i = 0; i < t->count; i++) {
        free(t->names[i]);
        SSL_CTX_free(t->ctxs[i]);
    }
    free(t->names);
    free(t->ctxs);
    free(t);
}

static int sl_sni_index = -1;
static CRYPTO_ONCE sl_sni_once = CRYPTO_ONCE_STATIC_INIT;
static void sl_sni_index_init(void) {
    sl_sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sl_sni_table_free);
}

static int sl_name_matches(const char *pattern, const char *name) {
    if (strcasecmp(pattern, name) == 0) return 1;
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        /* "*.example.com" covers exactly one label before ".example.com". */
        return dot != NULL && dot != name && strcasecmp(dot, pattern + 1) == 0;
    }
    return 0;
}

static int sl_servername(SSL *ssl, int *alert, void *arg) {
    (void)alert;
    struct sl_sni_table *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!t || !name) return SSL_TLSEXT_ERR_OK;  /* no SNI: the default certificate */
    /* Exact names first, then wildcards, so a specific certificate wins. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < t->count; i++) {
            int wildcard = t->names[i][0] == '*';
            if (wildcard != pass) continue;
            if (sl_name_matches(t->names[i], name)) {
                SSL_set_SSL_CTX(ssl, t->ctxs[i]);
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_OK;  /* unknown name: the default certificate, as nginx does */
}

int sl_tls_ctx_set_sni_table(SSL_CTX *ctx, const char *const *names, SSL_CTX *const *ctxs, int count) {
    CRYPTO_THREAD_run_once(&sl_sni_once, sl_sni_index_init);
    if (sl_sni_index < 0) return 0;
    struct sl_sni_table *t = calloc(1, sizeof(*t));
    if (!t) return 0;
    t->names = calloc((size_t)(count > 0 ? count : 1), sizeof(char *));
    t->ctxs = calloc((size_t)(count > 0 ? count : 1), sizeof(SSL_CTX *));
    if (!t->names || !t->ctxs) { free(t->names); free(t->ctxs); free(t); return 0; }
    for (int i = 0; i < count; i++) {
        t->names[i] = strdup(names[i]);
        SSL_CTX_up_ref(ctxs[i]);
        t->ctxs[i] = ctxs[i];
        t->count = i + 1;
        if (!t->names[i]) { sl_sni_table_free(NULL, t, NULL, 0, 0, NULL); return 0; }
    }
    if (SSL_CTX_set_ex_data(ctx, sl_sni_index, t) != 1) { sl_sni_table_free(NULL, t, NULL, 0, 0, NULL); return 0; }
    SSL_CTX_set_tlsext_servername_callback(ctx, sl_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, t);
    return 1;
}

SSL *sl_tls_new(SSL_CTX *ctx, int fd, int server) {
    SSL *ssl = SSL_new(ctx);
    if (!ssl) return NULL;
    if (SSL_set_fd(ssl, fd) != 1) { SSL_free(ssl); return NULL; }
    if (server) SSL_set_accept_state(ssl); else SSL_set_connect_state(ssl);
    return ssl;
}

static int sl_classify(SSL *ssl, int ret) {
    sl_last_errno = errno;
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ: return SL_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return SL_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return SL_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        /* No OpenSSL error and no errno: the peer closed the socket. */
        if (ERR_peek_error() == 0 && errno == 0) return SL_TLS_CLOSED;
        return SL_TLS_ERROR;
    default: return SL_TLS_ERROR;
    }
}

int sl_tls_handshake(SSL *ssl) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(ssl);
    return r == 1 ? SL_TLS_OK : sl_classify(ssl, r);
}

int sl_tls_read(SSL *ssl, void *buf, int len, int *n) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(ssl, buf, len);
    if (r > 0) { *n = r; return SL_TLS_OK; }
    return sl_classify(ssl, r);
}

int sl_tls_write(SSL *ssl, const void *buf, int len, int *n) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_write(ssl, buf, len);
    if (r > 0) { *n = r; return SL_TLS_OK; }
    return sl_classify(ssl, r);
}

void sl_tls_free(SSL *ssl, int graceful) {
    if (!ssl) return;
    /* One non-blocking attempt at close_notify, on a clean close only (an
       abort must not look like a complete stream to the peer, and a session
       not shut down is not resumed); never wait for the peer's. */
    if (graceful && SSL_is_init_finished(ssl)) {
        ERR_clear_error();
        (void)SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
}

void sl_tls_last_error(SSL *ssl, char *out, int cap) {
    if (cap <= 0) return;
    out[0] = 0;
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = ERR_peek_error();
    if (v != X509_V_OK) {
        snprintf(out, (size_t)cap, "certificate verify failed: %s", X509_verify_cert_error_string(v));
    } else if (e != 0) {
        ERR_error_string_n(e, out, (size_t)cap);
    } else if (sl_last_errno != 0) {
        snprintf(out, (size_t)cap, "%s", strerror(sl_last_errno));
    } else {
        snprintf(out, (size_t)cap, "connection closed during the handshake");
    }
    ERR_clear_error();
}

int sl_tls_verify_host(SSL *ssl, const char *host) {
    X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
    /* An IP literal is checked against the certificate's IP addresses. */
    if (X509_VERIFY_PARAM_set1_ip_asc(p, host) == 1) return 1;
    X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, host) != 1) return 0;
    return sl_tls_set_sni(ssl, host);
}


unsigned long sl_tls_bytes_read(SSL *ssl) {
    BIO *b = SSL_get_rbio(ssl);
    return b ? (unsigned long)BIO_number_read(b) : 0;
}

int sl_tls_has_pending(SSL *ssl) { return SSL_has_pending(ssl); }
