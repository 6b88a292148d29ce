/* libssl.so for Debian's civetweb 1.15 on OpenSSL 3: the symbols it misses or misreads. */

/* civetweb 1.15 (built with OPENSSL_API_1_1) loads OpenSSL at run time with
 * dlopen("libssl.so") and refuses HTTPS when any symbol it looks up is missing. OpenSSL 3
 * renamed SSL_get_peer_certificate to SSL_get1_peer_certificate and keeps the old name only
 * as a macro, so the lookup fails. This library is found first under the name libssl.so
 * (the gateway's DT_RPATH points at its directory), defines the old name, and leaves every
 * other lookup to the real libssl.so.3 it depends on (dlsym searches a handle's
 * dependencies too). No OpenSSL header on purpose: ssl.h would turn the definition below
 * into one of SSL_get1_peer_certificate.
 *
 * On 32-bit targets (armhf) it also has to translate SSL_CTX_set_options and
 * SSL_CTX_clear_options: civetweb calls them as OpenSSL 1.1 declared them, with unsigned
 * long options, while OpenSSL 3 takes uint64_t. Where long has 32 bits the two calls pass
 * the argument differently (on ARM EABI a 64-bit one goes in the r2:r3 pair, civetweb's in
 * r1), so OpenSSL would read register garbage as options and, seen under qemu-arm, end
 * up with every protocol disabled ("no protocols available"). */

#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>

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

#if ULONG_MAX < UINT64_MAX
struct ssl_ctx_st;

typedef uint64_t (*ssl_ctx_options_fn)(struct ssl_ctx_st *ctx, uint64_t op);

unsigned long SSL_CTX_set_options(struct ssl_ctx_st *ctx, unsigned long op);
unsigned long SSL_CTX_clear_options(struct ssl_ctx_st *ctx, unsigned long op);

/* Calls OpenSSL 3's function called name (never ours: looked up from libssl.so.3's own
 * handle, which does not see this library) with op widened to uint64_t. Returns the new
 * options truncated to unsigned long, as OpenSSL 1.1 did (no option above bit 31 is one
 * civetweb sets), or 0 when libssl.so.3 or the symbol cannot be found, which can't happen
 * while this library is loaded, as it depends on libssl.so.3. */
static unsigned long call_options_fn(const char *name, struct ssl_ctx_st *ctx, unsigned long op)
{
    void *libssl = dlopen("libssl.so.3", RTLD_LAZY | RTLD_NOLOAD);
    if (!libssl) {
        return 0;
    }
    unsigned long result = 0;
    ssl_ctx_options_fn fn;
    /* POSIX's sanctioned way to turn dlsym's object pointer into a function pointer. */
    *(void **)&fn = dlsym(libssl, name);
    if (fn) {
        result = (unsigned long)fn(ctx, (uint64_t)op);
    }
    dlclose(libssl);
    return result;
}

/* OpenSSL 1.1's SSL_CTX_set_options(): ORs op into ctx's options, returns the new ones. */
unsigned long SSL_CTX_set_options(struct ssl_ctx_st *ctx, unsigned long op)
{
    return call_options_fn("SSL_CTX_set_options", ctx, op);
}

/* OpenSSL 1.1's SSL_CTX_clear_options(): clears op in ctx's options, returns the new ones. */
unsigned long SSL_CTX_clear_options(struct ssl_ctx_st *ctx, unsigned long op)
{
    return call_options_fn("SSL_CTX_clear_options", ctx, op);
}
#endif
