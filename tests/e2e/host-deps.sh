#!/bin/bash
# Host tools needed by the e2e lab (tests/e2e). Idempotent: installs only what is missing,
# runs `apt-get update` at most once per invocation. Needs root. Safe to call from CI.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "host-deps.sh: not root, skipping (e2e tests will skip too)" >&2
  exit 0
fi

# package -> a file it provides (cheap presence check without dpkg-query per package)
declare -A PROVIDES=(
  [debootstrap]=/usr/sbin/debootstrap
  [swaks]=/usr/bin/swaks
  [tmux]=/usr/bin/tmux
  [openssh-client]=/usr/bin/ssh
  [dpkg-dev]=/usr/bin/dpkg-scanpackages
  [zstd]=/usr/bin/zstd
  [iproute2]=/usr/sbin/ip
  [util-linux]=/usr/bin/unshare
  [strace]=/usr/bin/strace
  [libnet-ssleay-perl]=/usr/lib/x86_64-linux-gnu/perl5/5.36/Net/SSLeay.pm
  [testssl.sh]=/usr/bin/testssl
  [pebble]=/usr/bin/pebble
)

missing=()
for pkg in debootstrap swaks tmux openssh-client dpkg-dev zstd iproute2 util-linux strace libnet-ssleay-perl \
           testssl.sh pebble; do
  f=${PROVIDES[$pkg]}
  if [ ! -e "$f" ] && ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$pkg")
  fi
done
# util-linux also provides nsenter and setpriv; check them too
for f in /usr/bin/nsenter /usr/bin/setpriv; do
  [ -x "$f" ] || { [[ " ${missing[*]:-} " == *" util-linux "* ]] || missing+=(util-linux); }
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "host-deps.sh: all host tools present"
  exit 0
fi

echo "host-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -q
timeout 900 apt-get install -y -q "${missing[@]}"
