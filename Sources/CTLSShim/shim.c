#include "CTLSShim.h"
int sl_tls_ctx_set_min_tls12(SSL_CTX *ctx) { return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }
int sl_tls_ctx_set_max_tls13(SSL_CTX *ctx) { return (int)SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION); }
int sl_tls_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
long sl_tls_ctx_set_session_cache_server(SSL_CTX *ctx) { return SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER); }
