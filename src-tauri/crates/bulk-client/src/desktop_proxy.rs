//! The desktop's proxy settings on Linux: GNOME's Settings → Network → Proxy (also read by the desktops
//! built on its settings), "Manual" proxies and "Automatic" with a configuration URL (a PAC file). They are
//! asked of GIO's proxy resolver, the one GNOME's own programs use: it applies the ignored hosts, and runs
//! PAC files in glib-networking's PAC runner (libproxy), so Haul carries no JavaScript engine of its own.
//!
//! Order, as every careful client has it: a server's own proxy (Servers page, `--proxy`), then the
//! environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, read by reqwest), then the desktop's settings.
//! Windows' and macOS' system settings are reqwest's (`system-proxy`); PAC there is not read.

use std::collections::HashMap;
use std::sync::Mutex;

use url::Url;

/// Origins whose answer is kept: a PAC file is run once per server, not once per connection.
const CACHED_ORIGINS: usize = 256;

/// The desktop's proxy for the HTTP client, when the desktop has one set and the environment names none.
pub(crate) fn desktop_proxy() -> Option<reqwest::Proxy> {
    if environment_names_a_proxy() || !platform::configured() {
        return None;
    }
    let cache: Mutex<HashMap<String, Option<Url>>> = Mutex::new(HashMap::new());
    Some(reqwest::Proxy::custom(move |url: &Url| {
        let origin = url.origin().ascii_serialization();
        if let Some(known) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&origin) {
            return known.clone();
        }
        let answer = platform::lookup(url).and_then(|proxies| first_usable(&proxies));
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHED_ORIGINS {
            cache.clear();
        }
        cache.insert(origin, answer.clone());
        answer
    }))
}

fn environment_names_a_proxy() -> bool {
    ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// The resolver's answer is a list to try in order (`http://proxy:3128`, `direct://`); the first one
/// Haul can use decides: a direct connection, or an HTTP(S) proxy (SOCKS proxies are passed over).
fn first_usable(proxies: &[String]) -> Option<Url> {
    for p in proxies {
        if p == "direct://" {
            return None;
        }
        if let Ok(url) = Url::parse(p)
            && matches!(url.scheme(), "http" | "https")
        {
            return Some(url);
        }
    }
    None
}

#[cfg(target_os = "linux")]
mod platform {
    use gio::prelude::*;
    use url::Url;

    const SCHEMA: &str = "org.gnome.system.proxy";

    /// The desktop's settings say "Manual" or "Automatic" (read without a session bus: dconf is a file).
    pub fn configured() -> bool {
        let Some(source) = gio::SettingsSchemaSource::default() else { return false };
        if source.lookup(SCHEMA, true).is_none() {
            return false;
        }
        let mode = gio::Settings::new(SCHEMA).string("mode");
        mode == "manual" || mode == "auto"
    }

    pub fn lookup(url: &Url) -> Option<Vec<String>> {
        let resolver = gio::ProxyResolver::default();
        let proxies = resolver.lookup(url.as_str(), gio::Cancellable::NONE).ok()?;
        Some(proxies.iter().map(|p| p.to_string()).collect())
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use url::Url;

    pub fn configured() -> bool {
        false
    }

    pub fn lookup(_: &Url) -> Option<Vec<String>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::first_usable;

    #[test]
    fn the_first_answer_haul_can_use_decides() {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(first_usable(&list(&["direct://"])), None);
        let proxy = first_usable(&list(&["socks5://s:1080", "http://proxy.example:3128", "direct://"])).unwrap();
        assert_eq!(proxy.as_str(), "http://proxy.example:3128/");
        assert_eq!(first_usable(&list(&["socks://s:1080", "direct://", "http://late:1"])), None);
        assert_eq!(first_usable(&[]), None);
    }
}
