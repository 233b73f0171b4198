//! Starts and stops everything a test needs, and cleans up on failure too (every process is owned by a
//! guard whose Drop kills its whole process group).

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// The app binary Cargo built for this test run.
pub const APP: &str = env!("CARGO_BIN_EXE_haul-desktop");

/// The app program the window tests drive: the one this build made, or an installed one named by
/// `HAUL_E2E_APP` (`make package-test` points it at `/usr/bin/haul-desktop` from the `.deb`).
pub fn app_program() -> String {
    std::env::var("HAUL_E2E_APP").unwrap_or_else(|_| APP.to_string())
}
const WAIT: Duration = Duration::from_secs(20);

/// A child process in its own process group; dropping the guard ends the group.
struct Owned {
    child: Child,
    what: &'static str,
}

impl Owned {
    fn spawn(mut cmd: Command, what: &'static str) -> Self {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {what}: {e}. Is it installed? (`make test` installs it)"));
        Self { child, what }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
        eprintln!("[e2e] stopped {}", self.what);
    }
}

/// A virtual screen.
pub struct Display {
    _xvfb: Owned,
    pub name: String,
}

impl Display {
    pub fn start() -> Self {
        let mut cmd = Command::new("Xvfb");
        cmd.args(["-displayfd", "1", "-screen", "0", "1440x900x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut xvfb = Owned::spawn(cmd, "Xvfb");
        let stdout = xvfb.child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("Xvfb reports its display number");
        let number: u32 = line.trim().parse().unwrap_or_else(|_| panic!("Xvfb said {line:?}, not a display number"));
        Self { _xvfb: xvfb, name: format!(":{number}") }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// tauri-driver (and through it WebKitWebDriver), set up so every app it starts uses `data_dir`.
pub struct Driver {
    _process: Owned,
    port: u16,
    pub display: String,
    pub shots: PathBuf,
    shot_count: std::cell::Cell<u32>,
}

impl Driver {
    pub fn start(display: &Display, data_dir: &Path, test_name: &str) -> Self {
        Self::start_with(display, data_dir, test_name, &[])
    }

    /// As `start`, with more environment for the app (a GTK theme, say).
    pub fn start_with(display: &Display, data_dir: &Path, test_name: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let native_port = free_port();
        let mut cmd = Command::new("tauri-driver");
        cmd.args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", &display.name)
            .env("HAUL_DATA_DIR", data_dir)
            // Schedules made in the window write the system scheduler's files here, not into the user's own.
            .env("XDG_CONFIG_HOME", data_dir.join("config"))
            .env("HAUL_LOG", "info")
            // No accessibility bus under Xvfb; without this GTK waits for it.
            .env("NO_AT_BRIDGE", "1")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null());
        let process = Owned::spawn(cmd, "tauri-driver");
        wait_for_port(port, "tauri-driver");
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e").join(test_name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Self { _process: process, port, display: display.name.clone(), shots, shot_count: 0.into() }
    }

    /// Starts the app and connects to its window.
    ///
    /// The app of an earlier session in the same test must be gone first: WebKitWebDriver gives each new
    /// app an inspector port, and one still held by the last app ("Address already in use") left the new
    /// session waiting forever (seen once in CI). So: wait for the last app to exit, and give each session
    /// request a time limit, ending a stuck app before trying again.
    pub async fn launch(&self) -> App<'_> {
        wait_for_no_app(Duration::from_secs(15));
        let caps = json!({ "tauri:options": { "application": app_program() } });
        let caps = caps.as_object().unwrap().clone();
        let deadline = Instant::now() + WAIT * 4;
        let client = loop {
            let mut builder = ClientBuilder::new(HttpConnector::new());
            builder.capabilities(caps.clone());
            let url = format!("http://127.0.0.1:{}", self.port);
            match tokio::time::timeout(WAIT * 2, builder.connect(&url)).await {
                Ok(Ok(client)) => break client,
                Ok(Err(e)) if Instant::now() < deadline => {
                    eprintln!("[e2e] session not ready yet: {e}");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(_) if Instant::now() < deadline => {
                    eprintln!("[e2e] the app did not answer in {:?}; ending it and trying again", WAIT * 2);
                    let _ = Command::new("pkill").args(["-KILL", "-f", &app_program()]).status();
                    wait_for_no_app(Duration::from_secs(15));
                }
                Ok(Err(e)) => panic!("could not start the app through tauri-driver: {e}"),
                Err(_) => panic!("the app did not answer tauri-driver in {:?}", WAIT * 4),
            }
        };
        App { client, driver: self }
    }
}

/// Waits (up to `limit`) until no process of the app is running.
fn wait_for_no_app(limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let running = Command::new("pgrep").args(["-f", &app_program()]).stdout(Stdio::null()).status();
        if !running.is_ok_and(|s| s.success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct App<'d> {
    pub client: Client,
    driver: &'d Driver,
}

pub fn css(selector: &str) -> Locator<'_> {
    Locator::Css(selector)
}

impl App<'_> {
    pub async fn wait_for(&self, selector: &str) -> Element {
        match self.client.wait().at_most(WAIT).for_element(css(selector)).await {
            Ok(el) => el,
            Err(e) => {
                self.shot("failure").await;
                panic!("{selector} did not appear: {e}");
            }
        }
    }

    /// Waits until the element's text contains `needle`, returning the text.
    pub async fn wait_for_text(&self, selector: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(css(selector)).await
                && let Ok(text) = el.text().await
            {
                if text.contains(needle) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.shot("failure").await;
        panic!("{selector} never contained {needle:?}; last text: {last:?}");
    }

    /// Like `wait_for_text`, but reads the DOM's `textContent`: the WebDriver's visible-text rules see nothing
    /// in rows a virtualized list positions with transforms, though they are on screen (see the screenshots).
    pub async fn wait_for_content(&self, selector: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';";
            if let Ok(v) = self.client.execute(script, vec![json!(selector)]).await {
                let text = v.as_str().unwrap_or_default().to_string();
                if text.contains(needle) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.shot("failure").await;
        panic!("{selector} never held {needle:?}; last text: {last:?}");
    }

    pub async fn click(&self, selector: &str) {
        self.wait_for(selector).await.click().await.unwrap_or_else(|e| panic!("click {selector}: {e}"));
    }

    /// Replaces an input's text the way a user does (select all, type), so React sees every change.
    pub async fn type_into(&self, selector: &str, text: &str) {
        let el = self.wait_for(selector).await;
        // Select what is there, then type over it with real key events (Backspace first, so that an empty
        // `text` clears the field too).
        let arg = serde_json::to_value(&el).unwrap();
        self.client.execute("arguments[0].focus(); arguments[0].select();", vec![arg]).await.unwrap();
        el.send_keys(&format!("\u{E003}{text}")).await.unwrap();
    }

    /// Runs a script in the page and returns what it returns.
    pub async fn execute(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// Clicks the first element matching `selector` whose text contains `needle`.
    pub async fn click_text(&self, selector: &str, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            for el in self.client.find_all(css(selector)).await.unwrap_or_default() {
                if el.text().await.unwrap_or_default().contains(needle) {
                    el.click().await.unwrap();
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.shot("failure").await;
        panic!("no {selector} contains {needle:?}");
    }

    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let mut out = Vec::new();
        for el in self.client.find_all(css(selector)).await.unwrap() {
            out.push(el.text().await.unwrap());
        }
        out
    }

    /// Saves a numbered screenshot of the whole virtual screen (and of the page if that fails).
    pub async fn shot(&self, step: &str) {
        let n = self.driver.shot_count.get() + 1;
        self.driver.shot_count.set(n);
        let path = self.driver.shots.join(format!("{n:02}-{step}.png"));
        let ok = Command::new("import")
            .args(["-display", &self.driver.display, "-window", "root"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok && let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(&path, png);
        }
        eprintln!("[e2e] screenshot {}", path.display());
    }

    /// Resizes the window, to check a layout at a smaller size.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap_or_else(|e| panic!("resize: {e}"));
    }

    /// Closes the window (ends the WebDriver session, which ends the app).
    pub async fn quit(self) {
        self.client.close().await.expect("close the session");
    }
}
