#!/usr/bin/env bash
# Makes a throwaway CA and a server certificate for localhost / 127.0.0.1 (tests, local runs).
#
#   broker/gen-test-ca.sh [--days N] [--host NAME]... OUT_DIR
#
# Writes into OUT_DIR: ca.crt (trust this: HAUSBUS_MQTT_CAFILE, python's ssl cafile),
# server.crt + server.key (mosquitto certfile/keyfile) and server.pem (certificate then
# key in one file: HAUSBUS_HTTP_TLS_CERT for the gateway). Keys are P-256, mode 0600; the
# CA key is deleted once the server certificate is signed, so nothing else can be signed
# with it. Subject alternative names: localhost, 127.0.0.1, ::1 and every --host (a DNS
# name, or an IPv4/IPv6 address). Not for production: use your own CA there.
set -euo pipefail

usage() {
    echo "usage: $0 [--days N] [--host NAME]... OUT_DIR" >&2
    exit 2
}

days=7
out_dir=""
sans=("DNS:localhost" "IP:127.0.0.1" "IP:::1")
while [ $# -gt 0 ]; do
    case "$1" in
        --days) [ $# -ge 2 ] || usage; days=$2; shift ;;
        --host)
            [ $# -ge 2 ] || usage
            if [[ $2 =~ ^[0-9.]+$ || $2 == *:* ]]; then
                sans+=("IP:$2")
            else
                sans+=("DNS:$2")
            fi
            shift
            ;;
        -h | --help | -*) usage ;;
        *) [ -z "$out_dir" ] || usage; out_dir=$1 ;;
    esac
    shift
done
[ -n "$out_dir" ] || usage
[[ $days =~ ^[1-9][0-9]*$ ]] || usage
command -v openssl >/dev/null || { echo "gen-test-ca: openssl not found" >&2; exit 1; }

umask 077
mkdir -p "$out_dir"
cd "$out_dir"
san_list=$(IFS=,; echo "${sans[*]}")

# Extensions as strict verifiers (Python 3.13's VERIFY_X509_STRICT) want them.
cat >ca.ext <<EOF
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
cat >server.ext <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san_list
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.crt -days "$days" -subj "/CN=hausbus throwaway test CA" \
    -extensions v3_ca \
    -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3_ca]\n'; cat ca.ext) \
    2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$days" -extfile server.ext -out server.crt 2>/dev/null
cat server.crt server.key >server.pem
rm -f ca.key ca.srl ca.ext server.ext server.csr
chmod 0644 ca.crt server.crt
chmod 0600 server.key server.pem
openssl verify -CAfile ca.crt server.crt >/dev/null
echo "wrote ca.crt, server.crt, server.key, server.pem into $(pwd) ($san_list)" >&2
