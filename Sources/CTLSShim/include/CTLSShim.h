// C wrappers for OpenSSL's function-like macros, which Swift does not import.
#pragma once
#include <openssl/ssl.h>
int sl_tls_ctx_set_min_tls12(SSL_CTX *ctx);
int sl_tls_ctx_set_max_tls13(SSL_CTX *ctx);
int sl_tls_set_sni(SSL *ssl, const char *name);
long sl_tls_ctx_set_session_cache_server(SSL_CTX *ctx);
