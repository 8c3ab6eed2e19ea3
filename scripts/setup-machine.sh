#!/usr/bin/env bash
# Installs what the tests need from the machine, beside what `npm ci` installs: Debian's packages
# for the browser test (chromium, driven through playwright-core, which downloads no browser), the
# LIBSVM tests (liblinear-tools ships heart_scale and the reference trainer), the TLS tests
# (openssl makes their certificates) and the fault suite (iproute2's `ip` and `ss`, iptables).
# Does nothing when everything is there; needs root (or sudo) only when something is missing.
set -euo pipefail

major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# package -> a file it installs, to tell whether it is there.
declare -A probe=(
  [chromium]=/usr/bin/chromium
  [liblinear-tools]=/usr/bin/liblinear-train
  [openssl]=/usr/bin/openssl
  [iproute2]=/usr/bin/ss
  [iptables]=/usr/sbin/iptables
)
missing=()
for pkg in "${!probe[@]}"; do
  [ -e "${probe[$pkg]}" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: the Debian packages the tests use are installed"
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "setup: missing Debian packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing ${missing[*]} and no apt-get here: install their equivalents with this system's package manager" >&2
  exit 1
fi
echo "setup: installing ${missing[*]} (apt-get)"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"
