//! Static assets (CSS, JavaScript, icons) compiled into the binary and served under
//! content-hashed names with a one-year immutable cache lifetime.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use super::error::AppError;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Embedded;

struct Manifest {
    /// "css/app.css" → "css/app.3f2a9c1b7d.css"
    hashed: HashMap<String, String>,
    /// and back
    logical: HashMap<String, String>,
}

static MANIFEST: LazyLock<Manifest> = LazyLock::new(|| {
    let mut hashed = HashMap::new();
    let mut logical = HashMap::new();
    for name in Embedded::iter() {
        if let Some(file) = Embedded::get(&name) {
            let digest = hex::encode(Sha256::digest(&file.data));
            let short = &digest[..10];
            let with_hash = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{short}.{ext}"),
                None => format!("{name}.{short}"),
            };
            hashed.insert(name.to_string(), with_hash.clone());
            logical.insert(with_hash, name.to_string());
        }
    }
    Manifest { hashed, logical }
});

/// The URL of an asset, e.g. `asset_url("css/app.css")` → `/assets/css/app.3f2a9c1b7d.css`.
pub fn asset_url(name: &str) -> String {
    match MANIFEST.hashed.get(name) {
        Some(hashed) => super::paths::ASSET.at(hashed),
        None => super::paths::ASSET.at(name),
    }
}

/// `GET /assets/{path}`: only hashed names are served, so a cached copy is never stale.
pub async fn serve(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let hashed = path.into_inner();
    let logical = MANIFEST.logical.get(&hashed).ok_or(AppError::NotFound)?;
    let file = Embedded::get(logical).ok_or(AppError::NotFound)?;
    let mime = mime_guess::from_path(logical).first_or_octet_stream();
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime.essence_str().to_owned()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(file.data.into_owned()))
}
