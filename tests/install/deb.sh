#!/usr/bin/env bash
# The installer test: installs the .deb that `make package` built (apt-get, as root or with sudo), checks what
# it put where, then drives the *installed* app under Xvfb through a first export from the demo server and
# every page in both themes (tests/e2e/looks.rs with HAUL_E2E_APP=/usr/bin/haul-desktop). Screenshots land in
# target/e2e/looks-light and looks-dark. Not part of `make test`: it needs a release build (`make package`).
set -euo pipefail
cd "$(dirname "$0")/../.."

deb=$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -1 || true)
[ -n "$deb" ] || { echo "No .deb in target/release/bundle/deb: run 'make package' first." >&2; exit 1; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

echo "Package: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --field "$deb" Package Version Installed-Size Depends Description | sed 's/^/  /'
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "./$deb" >/dev/null
echo "Installed. Files:"
dpkg -L "$(dpkg-deb --field "$deb" Package)" | grep -E 'bin/|\.desktop$|icons/.*/apps/' | sed 's/^/  /'

for f in /usr/bin/haul-desktop /usr/bin/haul; do
  [ -x "$f" ] || { echo "missing: $f" >&2; exit 1; }
done
desktop=$(dpkg -L "$(dpkg-deb --field "$deb" Package)" | grep '\.desktop$' | head -1)
grep -q '^Exec=haul-desktop' "$desktop" || { echo "$desktop does not start haul-desktop" >&2; exit 1; }
echo "haul on the PATH: $(command -v haul) — $(haul --version)"

# The installed app, driven as the e2e tests drive the built one; with the compiler settings of tests/run.sh,
# so the test program `make test` built is reused rather than built again.
export RUSTC_WORKSPACE_WRAPPER="${RUSTC_WORKSPACE_WRAPPER:-$(command -v clippy-driver || true)}"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
bash src-tauri/scripts/install-deps.sh test >/dev/null
HAUL_E2E_APP=/usr/bin/haul-desktop dbus-run-session -- sh -c \
  'echo -n haul-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test --test e2e -- --ignored --test-threads=1 looks'
echo "The installed app exported from the demo server; screenshots in target/e2e/looks-light and looks-dark."
