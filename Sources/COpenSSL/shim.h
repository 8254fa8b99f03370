// OpenSSL's libcrypto, for what Foundation on Linux lacks: HMAC-SHA256, constant-time comparison,
// PBKDF2 and a CSPRNG. Headers come from libssl-dev (scripts/ci-packages.txt installs it).
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
