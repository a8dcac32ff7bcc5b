# Shared by scripts/cluster and scripts/test: install Debian's haproxy when it is missing
# and possible (root with apt-get), quietly. Without it the HAProxy tests are skipped.
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ] && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null; then
  echo "kefu: installing haproxy ..." >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null 2>&1; }; } \
    || echo "kefu: could not install haproxy; the HAProxy tests will be skipped" >&2
fi
