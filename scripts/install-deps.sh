#!/usr/bin/env bash
# Install what building and testing hakmem needs, from Debian's packages,
# and only what is missing.  Needs root (or sudo) when something is missing.
#
#   scripts/install-deps.sh [extra-package ...]
set -eu
pkgs=(gcc make pkg-config check libsubunit-dev libnuma-dev libhugetlbfs-dev
      libhugetlbfs-bin perl python3 git sqlite3 time strace procps
      qemu-system-x86 busybox-static valgrind "$@")
# qemu-system-x86 and busybox-static: the two-node VM of the numa-vm test part.
# valgrind: the percpu part checks that the fallback front end runs there.
missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
