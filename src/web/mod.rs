//! What every page shares: the error type and error pages, the session and CSRF extractors,
//! translations, page rendering, embedded assets and security headers.

pub mod assets;
pub mod client;
pub mod error;
pub mod forms;
pub mod headers;
pub mod i18n;
pub mod keyboard;
pub mod page;
pub mod paths;
pub mod rate_limit;
pub mod session;
pub mod upload;
pub mod zip_stream;

pub use error::AppError;
pub use forms::CsrfForm;
pub use page::{Page, render, see_other};
pub use session::{Authenticated, Visitor};
pub use upload::CsrfUpload;
