#!/usr/bin/env bash
# Installs what Haul needs on Debian/Ubuntu, skipping whatever is already there (a warm machine stays fast).
#   install-deps.sh app         system libraries to build and run the desktop app, and the UI's npm packages
#   install-deps.sh test        the above, plus Xvfb, WebKitWebDriver, tauri-driver, gnome-keyring, ImageMagick,
#                               Java, and the tests' Python packages (.venv) and Azurite (npm)
#   install-deps.sh test-build  `test` but the Python packages and Azurite
#   install-deps.sh test-tools  the Python packages and Azurite alone: tests/run.sh installs them while the build
#                               runs, since they wait on the network more than on the cores; nothing in this
#                               part needs sudo (python3-venv comes with the system packages)
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:-app}
tools=no
case "$mode" in
  app) ;;
  test) tools=yes ;;
  test-build) mode=test ;;
  test-tools) mode=test; tools=only ;;
  *) echo "install-deps.sh: unknown mode '$mode' (app, test, test-build or test-tools)" >&2; exit 2 ;;
esac
packages=(pkg-config build-essential file libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev
          librsvg2-dev libdbus-1-dev libssl-dev
          # The desktop's proxy settings (GNOME's, PAC files included) as GIO resolves them.
          glib-networking glib-networking-services gsettings-desktop-schemas)
if [ "$mode" = test ]; then
  # systemd: systemd-analyze checks the timers `haul schedule` writes.
  # libproxy1-plugin-webkit: the PAC runner's JavaScript, for the PAC file test.
  packages+=(xvfb webkit2gtk-driver gnome-keyring dbus dbus-x11 imagemagick procps systemd libproxy1-plugin-webkit
             python3 python3-venv)
  # Java for Apache Spark (the Delta tables' reader in the tests), unless one is there already.
  command -v java >/dev/null 2>&1 || packages+=(default-jre-headless)
fi

install_system() {
  local missing=() p sudo=""
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing system packages: ${missing[*]}"
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "System packages: all present"
  fi
}

# The UI's npm packages, reinstalled only when the lock file changed.
install_ui() {
  local stamp=ui/node_modules/.haul-lock-sha256 want
  want=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing the UI's npm packages"
    npm --prefix ui ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  else
    echo "npm packages: up to date"
  fi
}

# The tests' tools.
install_tools() {
  local stamp want
  # From PyPI into .venv: DuckDB, pyarrow and openpyxl for the interop tests (Parquet, CSV, Excel) and the
  # benchmarks; moto (its server mode), the S3-compatible server of the object storage tests and the store
  # behind tests/storage/gcs_front.py (which checks GCS's sign-in with `cryptography`, a dependency of both moto
  # and azure-storage-blob); azure-storage-blob, which creates the tests' container in Azurite and reads blobs
  # back; deltalake (delta-rs for Python) and pyspark (Apache Spark, on the Java above), the readers of the
  # Delta tables Haul writes.
  local pins=(duckdb==2.0.0 pyarrow==26.0.1 openpyxl==3.1.5 "moto[server]==5.2.5" azure-storage-blob==12.27.1
              deltalake==1.6.6 pyspark==4.3.0)
  local check='import duckdb, pyarrow, openpyxl, moto, azure.storage.blob as blob, deltalake, pyspark; assert (duckdb.__version__, pyarrow.__version__, openpyxl.__version__, moto.__version__, blob.__version__, deltalake.__version__, pyspark.__version__) == ("2.0.0", "26.0.1", "3.1.5", "5.2.5", "12.27.1", "1.6.6", "4.3.0")'
  if .venv/bin/python -c "$check" 2>/dev/null; then
    echo "DuckDB, pyarrow, openpyxl, moto, azure-storage-blob, deltalake and pyspark: present"
  else
    echo "Installing DuckDB, pyarrow, openpyxl, moto, azure-storage-blob, deltalake and pyspark into .venv (pip): ${pins[*]}"
    python3 -m venv .venv
    .venv/bin/python -m pip install -q "${pins[@]}"
  fi


  # Azurite (Microsoft's Azure Storage emulator) for the object storage tests, reinstalled only when its lock
  # file changed.
  stamp=tests/storage/node_modules/.haul-lock-sha256
  want=$(sha256sum tests/storage/package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing Azurite (npm)"
    npm --prefix tests/storage ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  else
    echo "Azurite: up to date"
  fi
}

if [ "$tools" != only ]; then
  install_system
  install_ui
  # Compiled, so not among the tools installed beside the build: it would take the build's cores.
  if [ "$mode" = test ] && ! command -v tauri-driver >/dev/null 2>&1; then
    echo "Installing tauri-driver (cargo install)"
    cargo install tauri-driver --locked --quiet
  fi
fi
if [ "$tools" != no ]; then
  install_tools
fi
