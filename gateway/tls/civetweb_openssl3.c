/* libssl.so for Debian's civetweb 1.15 on OpenSSL 3: the one symbol it misses. */

/* civetweb 1.15 (built with OPENSSL_API_1_1) loads OpenSSL at run time with
 * dlopen("libssl.so") and refuses HTTPS when any symbol it looks up is missing. OpenSSL 3
 * renamed SSL_get_peer_certificate to SSL_get1_peer_certificate and keeps the old name only
 * as a macro, so the lookup fails. This library is found first under the name libssl.so
 * (the gateway's DT_RPATH points at its directory), defines the old name, and leaves every
 * other lookup to the real libssl.so.3 it depends on (dlsym searches a handle's
 * dependencies too). No OpenSSL header on purpose: ssl.h would turn the definition below
 * into one of SSL_get1_peer_certificate. */

struct ssl_st;
struct x509_st;

struct x509_st *SSL_get1_peer_certificate(const struct ssl_st *ssl);
struct x509_st *SSL_get_peer_certificate(const struct ssl_st *ssl);

/* The peer's certificate with its reference count raised (the caller frees it), as in
 * OpenSSL 1.1; NULL when the peer sent none. Can't fail otherwise. */
struct x509_st *SSL_get_peer_certificate(const struct ssl_st *ssl)
{
    return SSL_get1_peer_certificate(ssl);
}
