#!/usr/bin/env bash
# The .deb on a clean system: a minimal Debian 12 made with debootstrap (nothing but the base system), the .deb
# installed into it with apt-get, which must bring everything the app needs, and then the app *installed there*,
# started inside that system, driven under Xvfb through a first export from the demo server and every page in
# both themes (tests/e2e/looks.rs). Only the test tools stay outside it: Xvfb, tauri-driver, WebKitWebDriver
# (they reach the app through the X socket and a TCP port). Needs root (debootstrap, chroot) and a release build
# (`make package`). Prints the sizes; screenshots land in target/e2e/looks-light and looks-dark.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "This test makes a system with debootstrap and chroot: run it as root." >&2; exit 1; }
deb=$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -1 || true)
[ -n "$deb" ] || { echo "No .deb in target/release/bundle/deb: run 'make package' first." >&2; exit 1; }
root=${HAUL_CLEAN_ROOT:-$PWD/target/clean-root}
mirror=${HAUL_DEBIAN_MIRROR:-http://deb.debian.org/debian}

unmount() {
  for m in tmp dev/pts dev sys proc; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
  done
  return 0
}
trap unmount EXIT

command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
unmount
rm -rf "$root"
echo "Making a minimal Debian 12 in $root (debootstrap --variant=minbase bookworm)…"
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
base_mb=$(du -smx "$root" | cut -f1)
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
# The same /tmp inside and out: the X socket, the D-Bus session and the test's data folders.
mount --bind /tmp "$root/tmp"

cp "$deb" "$root/root/"
name=$(basename "$deb")
echo "Installing $name ($(du -h "$deb" | cut -f1)) with apt-get in the clean system…"
chroot "$root" apt-get update -qq
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "/root/$name" \
  >"$root/root/apt.log" 2>&1 || { tail -30 "$root/root/apt.log"; exit 1; }
pulled=$(grep -c '^Setting up ' "$root/root/apt.log" || true)
chroot "$root" apt-get clean
after_mb=$(du -smx "$root" | cut -f1)
echo "Sizes: the base system $base_mb MB; after the install $after_mb MB (Haul and $((pulled - 1)) packages apt-get pulled in)."
echo "haul in the clean system: $(chroot "$root" haul --version)"
chroot "$root" sh -c 'command -v haul-desktop && ls /usr/share/applications/*.desktop' | sed 's/^/  /'

# The installed app, started inside the clean system by the e2e harness (through this launcher).
launcher=$(mktemp /tmp/haul-clean-app.XXXXXX)
printf '#!/bin/sh\nexec chroot %q /usr/bin/haul-desktop "$@"\n' "$root" >"$launcher"
chmod +x "$launcher"
export RUSTC_WORKSPACE_WRAPPER="${RUSTC_WORKSPACE_WRAPPER:-$(command -v clippy-driver || true)}"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
bash src-tauri/scripts/install-deps.sh test >/dev/null
status=0
HAUL_E2E_APP="$launcher" dbus-run-session -- sh -c \
  'echo -n haul-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test --test e2e -- --ignored --test-threads=1 looks' || status=$?
rm -f "$launcher"
[ "$status" -eq 0 ] && echo "The app installed in a clean Debian 12 exported from the demo server; screenshots in target/e2e/looks-light and looks-dark."
exit "$status"
