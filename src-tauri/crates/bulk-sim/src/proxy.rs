//! A corporate web proxy on loopback, for tests: it asks for `Proxy-Authorization: Basic` with the user name
//! and password it was started with (407 with `Proxy-Authenticate` otherwise), tunnels `CONNECT host:port`
//! (HTTPS), and forwards plain-http requests in absolute form (`GET http://host/path`), rewritten to origin
//! form with `Connection: close` so that each forwarded request has a connection of its own. It forwards to
//! loopback only (127.0.0.1, ::1, localhost): never an open relay. It counts what it saw, so tests can check
//! the credentials reached it (and, with [`crate::Stats::proxy_authorization_seen`], never the server).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::Sim;

/// What the proxy saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Requests that reached the proxy (CONNECTs and forwarded requests, refused ones too).
    pub requests: u32,
    /// `CONNECT`s tunnelled.
    pub tunnels: u32,
    /// Plain-http requests forwarded.
    pub forwarded: u32,
    /// Requests answered 407 (no or wrong credentials).
    pub refused: u32,
    /// Requests that carried the right credentials.
    pub with_credentials: u32,
    /// Requests for a destination other than loopback, answered 403.
    pub refused_destinations: u32,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU32,
    tunnels: AtomicU32,
    forwarded: AtomicU32,
    refused: AtomicU32,
    with_credentials: AtomicU32,
    refused_destinations: AtomicU32,
}

/// A running proxy. Dropping it stops accepting (tunnels already open end with their connections).
pub struct SimProxy {
    address: SocketAddr,
    counters: Arc<Counters>,
    /// The tunnels' and forwards' own tasks, stopped with the proxy.
    shutdown: Option<oneshot::Sender<()>>,
    /// The value `Proxy-Authorization` must have.
    expected: Arc<Mutex<String>>,
}

/// The longest request head read; real ones are a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;

impl SimProxy {
    /// Starts on `127.0.0.1` at a free port, asking for `user` and `password`.
    /// A proxy that asks for no credentials (a PAC file's proxy usually does not).
    pub async fn start_open() -> std::io::Result<SimProxy> {
        let proxy = Self::start("", "").await?;
        proxy.expected.lock().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(proxy)
    }

    pub async fn start(user: &str, password: &str) -> std::io::Result<SimProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let expected = Arc::new(Mutex::new(basic(user, password)));
        let (tx, mut rx) = oneshot::channel::<()>();
        let (counters_, expected_) = (counters.clone(), expected.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut rx => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let expected = expected_.lock().unwrap_or_else(|p| p.into_inner()).clone();
                tokio::spawn(serve(stream, counters_.clone(), expected));
            }
        });
        Ok(SimProxy { address, counters, shutdown: Some(tx), expected })
    }

    /// `http://127.0.0.1:PORT`: the address a client is given.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn stats(&self) -> ProxyStats {
        let c = &self.counters;
        ProxyStats {
            requests: c.requests.load(Ordering::Relaxed),
            tunnels: c.tunnels.load(Ordering::Relaxed),
            forwarded: c.forwarded.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            with_credentials: c.with_credentials.load(Ordering::Relaxed),
            refused_destinations: c.refused_destinations.load(Ordering::Relaxed),
        }
    }

    /// Changes the credentials asked for from now on (a password IT changed).
    pub fn set_credentials(&self, user: &str, password: &str) {
        *self.expected.lock().unwrap_or_else(|p| p.into_inner()) = basic(user, password);
    }
}

impl Drop for SimProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// One client connection: one request head, then a tunnel (CONNECT) or one forwarded request.
async fn serve(stream: TcpStream, counters: Arc<Counters>, expected: String) {
    let mut client = BufReader::new(stream);
    let Some(head) = read_head(&mut client).await else { return };
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    let credentials = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization")).map(|(_, v)| v);
    // An open proxy (`start_open`) expects nothing.
    if !expected.is_empty() && credentials != Some(&expected) {
        counters.refused.fetch_add(1, Ordering::Relaxed);
        let _ = client
            .get_mut()
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"haul-sim\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        return;
    }
    counters.with_credentials.fetch_add(1, Ordering::Relaxed);
    let mut parts = request_line.splitn(3, ' ');
    let (method, target, version) =
        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or("HTTP/1.1"));

    let (authority, origin_form) = if method.eq_ignore_ascii_case("CONNECT") {
        (target.to_string(), None)
    } else {
        let Ok(url) = url::Url::parse(target) else { return refuse(&mut client, "400 Bad Request").await };
        let Some(host) = url.host_str() else { return refuse(&mut client, "400 Bad Request").await };
        let port = url.port_or_known_default().unwrap_or(80);
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        (format!("{host}:{port}"), Some(path))
    };
    if !is_loopback(&authority) {
        counters.refused_destinations.fetch_add(1, Ordering::Relaxed);
        return refuse(&mut client, "403 Forbidden").await;
    }
    let Ok(mut upstream) = TcpStream::connect(connect_address(&authority)).await else {
        return refuse(&mut client, "502 Bad Gateway").await;
    };
    match origin_form {
        None => {
            counters.tunnels.fetch_add(1, Ordering::Relaxed);
            if client.get_mut().write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await.is_err() {
                return;
            }
        }
        Some(path) => {
            counters.forwarded.fetch_add(1, Ordering::Relaxed);
            // Hop-by-hop headers stay here, as a proxy's must: the proxy's credentials above all.
            let mut rewritten = format!("{method} {path} {version}\r\n");
            for (name, value) in &headers {
                let hop = ["proxy-authorization", "proxy-connection", "connection", "keep-alive"];
                if !hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
                    rewritten.push_str(&format!("{name}: {value}\r\n"));
                }
            }
            rewritten.push_str("Connection: close\r\n\r\n");
            if upstream.write_all(rewritten.as_bytes()).await.is_err() {
                return;
            }
        }
    }
    // Bytes the client sent after the head (a request body) are in the reader's buffer.
    let buffered = client.buffer().to_vec();
    if !buffered.is_empty() && upstream.write_all(&buffered).await.is_err() {
        return;
    }
    let mut client = client.into_inner();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

async fn refuse(client: &mut BufReader<TcpStream>, status: &str) {
    let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = client.get_mut().write_all(answer.as_bytes()).await;
}

/// The request line and headers, without the blank line; `None` for a client that closed or sent too much.
async fn read_head(client: &mut BufReader<TcpStream>) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = (&mut *client).take(MAX_HEAD as u64).read_line(&mut line).await.ok()?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return None;
        }
        if line == "\r\n" || line == "\n" {
            return Some(head.trim_end().to_string());
        }
        head.push_str(line.trim_end_matches(['\r', '\n']));
        head.push_str("\r\n");
    }
}

/// `host:port` names this machine: the only destinations the proxy serves.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => return false,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn connect_address(authority: &str) -> String {
    match authority.rsplit_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => format!("127.0.0.1:{port}"),
        _ => authority.to_string(),
    }
}

/// Counts requests that reached the server with `Proxy-Authorization`: the proxy's credentials must stay with
/// the proxy.
pub(crate) async fn count_proxy_authorization(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    if request.headers().contains_key(axum::http::header::PROXY_AUTHORIZATION) {
        sim.stats().proxy_authorization_seen += 1;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_destinations_are_served() {
        assert!(is_loopback("127.0.0.1:8443"));
        assert!(is_loopback("localhost:80"));
        assert!(is_loopback("[::1]:443"));
        assert!(!is_loopback("example.org:443"));
        assert!(!is_loopback("10.0.0.1:443"));
        assert!(!is_loopback("127.0.0.1"));
        assert!(!is_loopback("127.0.0.1.example.org:443"));
    }
}
