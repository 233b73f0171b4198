//! The desktop's proxy settings (GNOME's, as GIO reads them) when a server has no proxy of its own and the
//! environment names none: a manual proxy, and an automatic configuration (PAC) file run by
//! glib-networking's PAC runner. The settings are a GSettings keyfile in the test's own config folder, so
//! the real resolver reads them as it reads a user's.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bulk_sim::{RunningSim, SimConfig, SimProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn sim() -> RunningSim {
    RunningSim::start(SimConfig {
        prepare_time: Duration::from_millis(50),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// Writes the desktop's proxy settings (`org.gnome.system.proxy`, path `/system/proxy/`) as GSettings'
/// keyfile backend keeps them. Loopback is not in the ignored hosts, as the simulator runs there.
fn desktop_settings(config: &Path, settings: &str) {
    let dir = config.join("glib-2.0").join("settings");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keyfile"), settings).unwrap();
}

fn export(sim: &RunningSim, data: &Path, out: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_haul"));
    command
        .args(["export", "--fhir-url", &sim.base_url(), "--type", "Patient", "--out", data.join(out).to_str().unwrap()])
        .env("HAUL_DATA_DIR", data)
        .env("HAUL_TEST_FAST_PACING", "1")
        .env("XDG_CONFIG_HOME", data.join("config"))
        .env("GSETTINGS_BACKEND", "keyfile")
        // As on a GNOME desktop, whose resolver GIO then picks (the test machine has no desktop of its own).
        .env("XDG_CURRENT_DESKTOP", "GNOME")
        .stdin(Stdio::null());
    for name in
        ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"]
    {
        command.env_remove(name);
    }
    command.output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_proxy_in_the_desktop_settings_carries_the_export() {
    let sim = sim().await;
    let proxy = SimProxy::start("nurse", "desktop-proxy-pass-1357").await.unwrap();
    let port = proxy.url().rsplit(':').next().unwrap().trim_end_matches('/').to_string();
    let data = tempfile::tempdir().unwrap();
    desktop_settings(
        &data.path().join("config"),
        &format!(
            "[system/proxy]\nmode='manual'\nignore-hosts=@as []\n\n[system/proxy/http]\nhost='127.0.0.1'\nport={port}\n\
             use-authentication=true\nauthentication-user='nurse'\nauthentication-password='desktop-proxy-pass-1357'\n"
        ),
    );
    let o = export(&sim, data.path(), "manual");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(proxy.stats().forwarded > 0, "the desktop's proxy was not used: {:?}", proxy.stats());
    assert!(proxy.stats().with_credentials > 0 && proxy.stats().refused == 0, "{:?}", proxy.stats());
    assert!(!text(&o).contains("desktop-proxy-pass-1357"));

    // "None" in the settings: straight to the server.
    desktop_settings(&data.path().join("config"), "[system/proxy]\nmode='none'\n");
    let before = proxy.stats().requests;
    let o = export(&sim, data.path(), "direct");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(proxy.stats().requests, before);
}

/// Serves one PAC file over HTTP on loopback, to every request.
async fn serve_pac(script: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/proxy.pac", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = socket.read(&mut head).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{script}",
                    script.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_configuration_file_picks_the_proxy() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        // PAC files run in glib-networking's PAC runner, a D-Bus service: `make test` runs the Rust tests in
        // a D-Bus session (for the keychain); without one there is nothing to ask.
        panic!("this test needs a D-Bus session bus (run it as `make test` does, under dbus-run-session)");
    }
    let sim = sim().await;
    let proxy = SimProxy::start_open().await.unwrap();
    let address = proxy.url().trim_start_matches("http://").trim_end_matches('/').to_string();
    let pac =
        serve_pac(format!("function FindProxyForURL(url, host) {{ return \"PROXY {address}; DIRECT\"; }}\n")).await;
    let data = tempfile::tempdir().unwrap();
    desktop_settings(
        &data.path().join("config"),
        &format!("[system/proxy]\nmode='auto'\nautoconfig-url='{pac}'\nignore-hosts=@as []\n"),
    );
    let o = export(&sim, data.path(), "pac");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(proxy.stats().forwarded > 0, "the PAC file's proxy was not used: {:?}", proxy.stats());
}
