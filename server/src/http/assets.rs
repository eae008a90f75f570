//! The site's static files under `/{site_pkg_dir}` (`/pkg/portal.css`, `.js`, `.wasm`), served
//! from memory. Leptos' fallback handler, which served them before, builds a `ServeDir` per
//! request (a blocking-pool round trip per open, stat and read) and drops the request's
//! conditional headers, so a browser could never get a 304.
//!
//! - Each file is read once (and again when its size or modification time changes, e.g. after
//!   `cargo leptos watch` rebuilt it), with the `.br` / `.gz` files that
//!   `cargo leptos build --release --precompress` writes beside it (`make release`). A request
//!   costs one `stat` and a copy-free clone of the bytes.
//! - Compression: the `br` file to clients that accept br, else the `gz` file to clients that
//!   accept gzip, else the file as is; `Vary: Accept-Encoding`.
//! - Caching: the file names carry no content hash (the same `/pkg/portal.wasm` after every
//!   deploy), so a long `max-age` would pair new HTML with an old wasm after a release. Instead
//!   `Cache-Control: no-cache`: browsers keep the file and revalidate it with its `ETag`
//!   (`If-None-Match`) or `Last-Modified` (`If-Modified-Since`), answered by a 304 without body.
//! - Only plain file names directly in the folder are served (no `/`, no leading `.`); anything
//!   else, or a missing file, is a 404.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::Path as UrlPath;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

pub const CACHE_CONTROL: &str = "no-cache";

pub fn routes(state: &AppState) -> Router<AppState> {
    let opts = &state.leptos_options;
    let pkg = opts.site_pkg_dir.trim_matches('/');
    let dir = Path::new(opts.site_root.as_ref()).join(pkg);
    files_router(dir)
}

/// One static file of the site. The pages link `/pkg/…` (see `app::shell`), so the address is
/// fixed; the files are read from the configured site root's pkg directory.
pub const FILE_ROUTE: &str = "/pkg/{file}";

/// [`FILE_ROUTE`] served from `dir`.
pub fn files_router<S: Clone + Send + Sync + 'static>(dir: PathBuf) -> Router<S> {
    let cache = Arc::new(Cache {
        dir,
        files: Mutex::new(HashMap::new()),
    });
    Router::new().route(
        FILE_ROUTE,
        get(move |UrlPath(file): UrlPath<String>, headers: HeaderMap| {
            let cache = cache.clone();
            async move { serve(&cache, &file, &headers).await }
        }),
    )
}

struct Cache {
    dir: PathBuf,
    files: Mutex<HashMap<String, Arc<Asset>>>,
}

struct Asset {
    /// Size and modification time of the file when read: a change means a new build.
    len: u64,
    modified: SystemTime,
    content_type: &'static str,
    identity: Bytes,
    gzip: Option<Bytes>,
    br: Option<Bytes>,
    /// Without quotes and without the encoding suffix.
    etag: String,
    last_modified: String,
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") | Some("map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") | Some("ts") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn servable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Identity,
    Gzip,
    Br,
}

/// Whether `Accept-Encoding` accepts `coding` (listed without `q=0`).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case(coding) && !refused
        })
}

async fn serve(cache: &Cache, file: &str, headers: &HeaderMap) -> Response {
    if !servable_name(file) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let asset = match load(cache, file).await {
        Ok(Some(a)) => a,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, file, "cannot read a static file");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let (encoding, body) = match (&asset.br, &asset.gzip) {
        (Some(b), _) if accepts(headers, "br") => (Encoding::Br, b.clone()),
        (_, Some(g)) if accepts(headers, "gzip") => (Encoding::Gzip, g.clone()),
        _ => (Encoding::Identity, asset.identity.clone()),
    };
    let etag = match encoding {
        Encoding::Identity => format!("\"{}\"", asset.etag),
        Encoding::Gzip => format!("\"{}-gz\"", asset.etag),
        Encoding::Br => format!("\"{}-br\"", asset.etag),
    };
    let not_modified = match headers.get(header::IF_NONE_MATCH) {
        // Any representation of this content matches: they differ only by encoding.
        Some(v) => v.to_str().is_ok_and(|v| {
            v.split(',').any(|t| {
                let t = t.trim().trim_start_matches("W/").trim_matches('"');
                t == "*" || t.split_once('-').map_or(t, |(base, _)| base) == asset.etag
            })
        }),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            // HTTP dates have whole seconds.
            .is_some_and(|since| unix_secs(asset.modified) <= unix_secs(since)),
    };
    let mut res = if not_modified {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
    } else {
        let mut b = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, asset.content_type);
        if encoding != Encoding::Identity {
            b = b.header(
                header::CONTENT_ENCODING,
                if encoding == Encoding::Br {
                    "br"
                } else {
                    "gzip"
                },
            );
        }
        b.body(Body::from(body))
    }
    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&asset.last_modified) {
        h.insert(header::LAST_MODIFIED, v);
    }
    res
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The cached file, read again when its size or modification time changed; None when missing.
async fn load(cache: &Cache, file: &str) -> std::io::Result<Option<Arc<Asset>>> {
    let path = cache.dir.join(file);
    // One stat per request (cheap; keeps a rebuilt file from being served stale).
    let meta = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let modified = meta.modified()?;
    let cached = cache.files.lock().ok().and_then(|m| m.get(file).cloned());
    if let Some(a) = cached {
        if a.len == meta.len() && a.modified == modified {
            return Ok(Some(a));
        }
    }
    let name = file.to_string();
    let asset = tokio::task::spawn_blocking(move || read_asset(&path, &name, meta.len(), modified))
        .await
        .map_err(std::io::Error::other)??;
    let asset = Arc::new(asset);
    if let Ok(mut m) = cache.files.lock() {
        m.insert(file.to_string(), asset.clone());
    }
    Ok(Some(asset))
}

fn read_asset(path: &Path, name: &str, len: u64, modified: SystemTime) -> std::io::Result<Asset> {
    let identity = Bytes::from(std::fs::read(path)?);
    // A compressed variant is used only if it is not older than the file itself.
    let variant = |ext: &str| -> Option<Bytes> {
        let p = PathBuf::from(format!("{}.{ext}", path.display()));
        let fresh = std::fs::metadata(&p)
            .and_then(|m| m.modified())
            .is_ok_and(|m| m >= modified);
        if fresh {
            std::fs::read(&p).ok().map(Bytes::from)
        } else {
            None
        }
    };
    let nanos = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(Asset {
        len,
        modified,
        content_type: content_type(name),
        gzip: variant("gz"),
        br: variant("br"),
        etag: format!("{len:x}.{nanos:x}"),
        last_modified: httpdate::fmt_http_date(modified),
        identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use tower::ServiceExt;

    fn site() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("portal-assets-{}", portal_core::ids::new_org_id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    async fn get(dir: &Path, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = Request::builder().uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        files_router::<()>(dir.to_path_buf())
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body(res: Response) -> Vec<u8> {
        axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec()
    }

    fn h(res: &Response, name: header::HeaderName) -> &str {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn serves_the_file_with_type_and_revalidation_headers() {
        let dir = site();
        std::fs::write(dir.join("portal.css"), "body{}").unwrap();
        let res = get(&dir, "/pkg/portal.css", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(h(&res, header::CONTENT_TYPE), "text/css; charset=utf-8");
        assert_eq!(h(&res, header::CACHE_CONTROL), "no-cache");
        assert_eq!(h(&res, header::VARY), "accept-encoding");
        assert_eq!(h(&res, header::CONTENT_ENCODING), "");
        assert!(h(&res, header::ETAG).starts_with('"'));
        assert!(h(&res, header::LAST_MODIFIED).ends_with("GMT"));
        assert_eq!(body(res).await, b"body{}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn precompressed_variants_follow_accept_encoding() {
        let dir = site();
        std::fs::write(dir.join("portal.wasm"), "RAW").unwrap();
        std::fs::write(dir.join("portal.wasm.gz"), "GZ").unwrap();
        std::fs::write(dir.join("portal.wasm.br"), "BR").unwrap();
        let cases = [
            ("gzip, deflate, br", "br", "BR"),
            ("gzip", "gzip", "GZ"),
            ("br;q=0, gzip", "gzip", "GZ"),
            ("br;q=0, gzip;q=0", "", "RAW"),
            ("", "", "RAW"),
        ];
        for (accept, encoding, expected) in cases {
            let res = get(&dir, "/pkg/portal.wasm", &[("accept-encoding", accept)]).await;
            assert_eq!(res.status(), StatusCode::OK, "{accept}");
            assert_eq!(h(&res, header::CONTENT_TYPE), "application/wasm");
            assert_eq!(h(&res, header::CONTENT_ENCODING), encoding, "{accept}");
            assert_eq!(body(res).await, expected.as_bytes(), "{accept}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_variant_older_than_the_file_is_not_used() {
        let dir = site();
        std::fs::write(dir.join("portal.js.gz"), "OLD GZ").unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(dir.join("portal.js.gz"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::fs::write(dir.join("portal.js"), "NEW").unwrap();
        let res = get(&dir, "/pkg/portal.js", &[("accept-encoding", "gzip")]).await;
        assert_eq!(h(&res, header::CONTENT_ENCODING), "");
        assert_eq!(body(res).await, b"NEW");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn conditional_requests_get_304_without_a_body() {
        let dir = site();
        std::fs::write(dir.join("portal.css"), "body{}").unwrap();
        let first = get(&dir, "/pkg/portal.css", &[("accept-encoding", "gzip")]).await;
        let etag = h(&first, header::ETAG).to_string();
        let modified = h(&first, header::LAST_MODIFIED).to_string();
        for headers in [
            vec![("if-none-match", etag.as_str())],
            vec![("if-modified-since", modified.as_str())],
        ] {
            let res = get(&dir, "/pkg/portal.css", &headers).await;
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{headers:?}");
            assert_eq!(h(&res, header::ETAG), etag);
            assert!(body(res).await.is_empty());
        }
        // Another ETag, or a date before the file's: the whole file.
        let res = get(&dir, "/pkg/portal.css", &[("if-none-match", "\"other\"")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = get(
            &dir,
            "/pkg/portal.css",
            &[("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")],
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body(res).await, b"body{}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_rebuilt_file_is_read_again() {
        let dir = site();
        std::fs::write(dir.join("portal.css"), "a{}").unwrap();
        let router = files_router::<()>(dir.clone());
        let fetch = |router: Router| async move {
            let req = Request::builder()
                .uri("/pkg/portal.css")
                .body(Body::empty())
                .unwrap();
            body(router.oneshot(req).await.unwrap()).await
        };
        assert_eq!(fetch(router.clone()).await, b"a{}");
        std::fs::write(dir.join("portal.css"), "a{color:red}").unwrap();
        assert_eq!(fetch(router).await, b"a{color:red}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn only_plain_file_names_in_the_folder_are_served() {
        let dir = site();
        let pkg = dir.join("pkg");
        std::fs::create_dir_all(pkg.join("sub")).unwrap();
        std::fs::write(dir.join("secret.txt"), "outside").unwrap();
        std::fs::write(pkg.join(".hidden"), "hidden").unwrap();
        std::fs::write(pkg.join("ok.txt"), "ok").unwrap();
        assert_eq!(get(&pkg, "/pkg/ok.txt", &[]).await.status(), StatusCode::OK);
        for path in [
            "/pkg/..%2Fsecret.txt",
            "/pkg/%2E%2E%2Fsecret.txt",
            "/pkg/../secret.txt",
            "/pkg/.hidden",
            "/pkg/sub",
            "/pkg/missing.css",
            "/pkg/sub/x",
        ] {
            assert_eq!(
                get(&pkg, path, &[]).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
