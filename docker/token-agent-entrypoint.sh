#!/bin/sh
# Creates the container's SoftHSM2 token once (SO PIN only, user PIN not initialised), then runs the agent.
set -eu
export SOFTHSM2_CONF="${SOFTHSM2_CONF:-/var/lib/softhsm/softhsm2.conf}"
if [ ! -f "$SOFTHSM2_CONF" ]; then
  printf 'directories.tokendir = /var/lib/softhsm/tokens\nobjectstore.backend = file\n' > "$SOFTHSM2_CONF"
fi
if ! pkcs11-tool --module "$PKCS11_MODULE" -L 2>/dev/null | grep -q "token label *: ${TOKEN_LABEL:-220771}"; then
  slot=$(pkcs11-tool --module "$PKCS11_MODULE" -L | awk '/^Slot/ {s=$3} /uninitialized/ {gsub(/[()]/,"",s); print s; exit}')
  pkcs11-tool --module "$PKCS11_MODULE" --slot "$slot" --init-token --label "${TOKEN_LABEL:-220771}" --so-pin "$AGENT_SO_PIN" >/dev/null
fi
exec "$@"
