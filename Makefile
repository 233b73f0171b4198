# Haul's two everyday commands, and a few for developers.
.PHONY: app test bindings e2e package package-test package-clean-test

## Runs the app: installs what it needs, builds the UI, opens the window.
app:
	bash src-tauri/scripts/install-deps.sh app
	npm --prefix ui run build
	cargo run --bin haul-desktop

## Runs every test (what CI runs).
test:
	bash tests/run.sh

## Regenerates the UI's IPC types (data types and the command table) from the Rust code.
bindings:
	rm -rf ui/src/ipc/bindings
	cargo test --workspace --quiet export_bindings_

## Only the end-to-end tests (needs `make test` to have installed Xvfb and tauri-driver once).
e2e:
	npm --prefix ui run build
	cargo test --workspace --test e2e -- --ignored --test-threads=1

## Installers in target/release/bundle/: .deb and .rpm (and an AppImage where linuxdeploy can be downloaded).
## The `haul` command line goes in with the app (/usr/bin/haul). BUNDLES=deb,rpm,appimage to choose.
BUNDLES ?= deb,rpm
package:
	bash src-tauri/scripts/install-deps.sh app
	cargo build --release -p haul-cli --bin haul
	ui/node_modules/.bin/tauri build --bundles $(BUNDLES)

## Installs that .deb (apt-get) and drives the installed app through a first export under Xvfb.
package-test:
	bash tests/install/deb.sh

## Installs that .deb into a bare Debian 12 (debootstrap; run as root) and drives the app installed there (Xvfb).
package-clean-test:
	bash tests/install/clean.sh
