#!/usr/bin/env bash
# Every test Haul has, in the order CI runs them, with the time each step took.
# Installs what a fresh Debian/Ubuntu machine lacks first. Exit code 0 only if every step passed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# A fresh clone builds once: incremental caches would only cost disk (gigabytes) and time.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi
# The shared sample data (the Synthea export, the SQL-on-FHIR suite) sits beside the repository as `shared/`.
# A clone made elsewhere (`git clone /work/main /tmp/x`) finds it beside the repository it was cloned from.
if [ -z "${HAUL_SHARED_DIR:-}" ] && [ ! -d ../shared/data ]; then
  origin=$(git config --get remote.origin.url 2>/dev/null || true)
  if [ -n "$origin" ] && [ -d "$origin/../shared/data" ]; then
    export HAUL_SHARED_DIR="$(cd "$origin/../shared" && pwd)"
    echo "Shared sample data: $HAUL_SHARED_DIR (beside the repository this clone came from)"
  else
    echo "The shared sample data is missing: put it beside the repository as shared/, or set HAUL_SHARED_DIR." >&2
    exit 1
  fi
fi
# Every cargo call below builds the same units (same packages, features and compiler), so the workspace is
# compiled once: clippy's lints run inside that one build (clippy-driver wraps rustc for workspace members
# only, exactly as `cargo clippy` does, but with code generation), instead of a separate check of everything.
export RUSTC_WORKSPACE_WRAPPER="${RUSTC_WORKSPACE_WRAPPER:-$(command -v clippy-driver || true)}"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

timings=()
step() {
  local name=$1
  shift
  echo
  echo "══════ $name"
  local start=$SECONDS
  if "$@"; then
    timings+=("$(printf '%5ss  ok    %s' $((SECONDS - start)) "$name")")
  else
    local code=$?
    timings+=("$(printf '%5ss  FAIL  %s' $((SECONDS - start)) "$name")")
    summary
    echo "Step failed: $name (exit $code)"
    exit "$code"
  fi
}
summary() {
  echo
  echo "══════ Timings"
  printf '%s\n' "${timings[@]}"
}

# The keychain tests talk to a real Secret Service: a private session bus with an unlocked gnome-keyring.
with_keyring() {
  dbus-run-session -- sh -c 'echo -n haul-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$@"' sh "$@"
}

build_all() {
  if [ -z "$RUSTC_WORKSPACE_WRAPPER" ]; then
    echo "clippy-driver is missing: install it with 'rustup component add clippy'."
    return 1
  fi
  # --timings: target/cargo-timings/cargo-timing.html says which crates the build spent its time on.
  cargo test --workspace --no-run --quiet --timings
}

bindings_up_to_date() {
  rm -rf ui/src/ipc/bindings
  # A build that fails here would otherwise show up only as "every binding deleted".
  local log
  log=$(mktemp)
  if ! cargo test --workspace --quiet export_bindings_ >"$log" 2>&1; then
    tail -n 60 "$log"
    rm -f "$log"
    git checkout -- ui/src/ipc/bindings
    echo "Generating the IPC types failed (the cargo output is above)."
    return 1
  fi
  rm -f "$log"
  if ! git diff --quiet -- ui/src/ipc/bindings || [ -n "$(git ls-files --others --exclude-standard ui/src/ipc/bindings)" ]; then
    git status --short -- ui/src/ipc/bindings
    echo "The generated IPC types in ui/src/ipc/bindings differ from the Rust types. Run 'make bindings' and commit the result."
    return 1
  fi
}

# A full disk shows up as odd build failures; say up front how much room there is.
echo "Free disk where this runs: $(df -h . | awk 'NR==2 {print $4}')"
step "install what building needs" bash src-tauri/scripts/install-deps.sh test-build
# The tests' own tools (Python packages, Azurite) install while the build runs: they wait on the network and
# the disk more than on the cores, and on a fresh clone they took a minute and a half.
tools_log=$(mktemp)
# Its own process group (setsid), so a failed step's exit stops pip and npm too.
setsid bash src-tauri/scripts/install-deps.sh test-tools >"$tools_log" 2>&1 &
tools_pid=$!
trap 'kill -- "-$tools_pid" 2>/dev/null || true; rm -f "$tools_log"' EXIT
trap 'exit 130' INT TERM
tools_installed() {
  local code=0
  wait "$tools_pid" || code=$?
  cat "$tools_log"
  return "$code"
}
export HAUL_PYTHON="$PWD/.venv/bin/python"
step "UI: build" npm --prefix ui run build
step "Rust: format" cargo fmt --all --check
step "Rust: build every target once, with clippy's lints as errors" build_all
step "install the tests' tools (begun before the build)" tools_installed
step "IPC types generated from Rust are committed" bindings_up_to_date
step "UI: type check" npm --prefix ui run typecheck
step "UI: unit tests" npm --prefix ui test
step "Rust: tests" with_keyring cargo test --workspace
step "end-to-end: the real app under Xvfb" with_keyring cargo test --workspace --test e2e -- --ignored --test-threads=1
summary
