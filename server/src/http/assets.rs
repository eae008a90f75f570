//! The site's static files under `/{site_pkg_dir}` (`/pkg/portal.css`, `.js`, `.wasm`), served
//! straight from `LEPTOS_SITE_ROOT` instead of through Leptos' fallback handler (which builds a
//! new `ServeDir` per request and drops the request's conditional headers, so a browser could
//! never get a 304).
//!
//! - Compression: the `.br` / `.gz` files that `cargo leptos build --release --precompress`
//!   writes beside each file (`make release`) are sent to clients that accept them; without them
//!   the file is sent as is.
//! - Caching: the file names carry no content hash (the same `/pkg/portal.wasm` after every
//!   deploy), so a long `max-age` would pair new HTML with an old wasm after a release. Instead
//!   `Cache-Control: no-cache`: browsers keep the file and revalidate it with `If-Modified-Since`
//!   (`Last-Modified` comes from the file), which costs a 304 without a body.
//! - A path that is not a file under the folder is a 404 (no directory listing, no page render).

use axum::http::{header, HeaderValue};
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;

pub const CACHE_CONTROL: &str = "no-cache";

pub fn routes(state: &AppState) -> Router<AppState> {
    let opts = &state.leptos_options;
    let pkg = opts.site_pkg_dir.trim_matches('/');
    let dir = std::path::Path::new(opts.site_root.as_ref()).join(pkg);
    let files = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(false);
    Router::new().nest_service(
        &format!("/{pkg}"),
        tower::ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            ))
            .service(files),
    )
}
