// libpq, PostgreSQL's client library: the shared store of several replicas (DATABASE_URL). Headers from
// Debian's libpq-dev (scripts/ci-packages.txt installs it); the include needs no -I, since libpq-fe.h
// finds its own headers beside it.
#include <postgresql/libpq-fe.h>
