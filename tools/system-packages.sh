#!/usr/bin/env bash
# Make sure the Debian packages named on the command line are installed.
# As root on Debian: installs the missing ones. Otherwise: names exactly what
# is missing and how to install it, and carries on (the tests that need a
# missing tool fail with that reason).
set -u
missing=()
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
        echo "apt-get install failed for: ${missing[*]}" >&2; exit 1; }
    exit 0
fi
echo "missing system packages: ${missing[*]}" >&2
echo "  install them with: sudo apt-get install ${missing[*]}" >&2
echo "  (tests that need them will fail and say so)" >&2
exit 0
