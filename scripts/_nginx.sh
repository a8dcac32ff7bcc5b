# Sourced by scripts/test: install Debian's nginx (nginx-light) when it is missing and
# possible (root with apt-get), quietly. Without it the deploy/nginx.conf tests are skipped.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ] && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null; then
  echo "kefu: installing nginx ..." >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1; }; } \
    || echo "kefu: could not install nginx; the nginx tests will be skipped" >&2
fi
