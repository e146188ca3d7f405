//! The context every full page receives (translator, CSRF token, user, organization, flash
//! message), and small helpers to render a template or redirect.

use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder};
use askama::Template;

use super::assets::asset_url;
use super::error::AppError;
use super::i18n::{Lang, Tr, has_key};
use super::session::{SessionOrg, SessionState, SessionUser};
use crate::state::AppState;

/// What the base layout needs.
pub struct Page {
    pub tr: Tr,
    pub csrf: String,
    pub user: Option<SessionUser>,
    pub org: Option<SessionOrg>,
    /// The organizations the user can switch to, by name.
    pub org_choices: Vec<SessionOrg>,
    pub flash: Option<&'static str>,
    /// The navigation entry to mark as current.
    pub nav: &'static str,
    /// The signed-in member's unread notifications in this organization (the bell).
    pub unread_notifications: u64,
}

impl Page {
    /// Builds the context for a page; `nav` names the current navigation entry.
    pub async fn new(
        state: &AppState,
        session: &SessionState,
        nav: &'static str,
    ) -> Result<Self, AppError> {
        let csrf = session.csrf_token(state).await?;
        let unread_notifications = match (&session.user, &session.org) {
            (Some(user), Some(org)) => {
                crate::inbox::notifications::store::unread_count(&state.db, org.id, user.id).await?
            }
            _ => 0,
        };
        Ok(Self {
            tr: session.tr(),
            csrf,
            user: session.user.clone(),
            org: session.org.clone(),
            org_choices: session.orgs.clone(),
            flash: session.flash,
            nav,
            unread_notifications,
        })
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.tr.t(key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.tr.tf(key, args)
    }

    pub fn tn(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        self.tr.tn(key, name, value)
    }

    pub fn asset(&self, name: &str) -> String {
        asset_url(name)
    }

    pub fn lang(&self) -> &'static str {
        self.tr.code()
    }

    pub fn languages(&self) -> [Lang; 3] {
        Lang::ALL
    }

    pub fn is_admin(&self) -> bool {
        self.org.as_ref().is_some_and(|o| o.role.is_admin())
    }

    pub fn is_owner(&self) -> bool {
        self.org
            .as_ref()
            .is_some_and(|o| o.role == crate::orgs::Role::Owner)
    }

    pub fn nav_current(&self, entry: &str) -> &'static str {
        if self.nav == entry { "page" } else { "false" }
    }
}

/// A flash message travels as `?flash=<key>` on the redirect target; only catalog keys under
/// `flash.` are shown, so a link cannot put arbitrary text on the page.
/// The confirmation a redirect named with `?flash=` (only known `flash.*` keys), translated.
pub(super) fn flash_from_query(query: &str, tr: Tr) -> Option<&'static str> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "flash")
        .map(|(_, v)| v.into_owned())
        .filter(|key| key.starts_with("flash.") && has_key(key))
        .map(|key| tr.t(&key))
}

/// Renders a template as an HTML response.
pub fn render<T: Template>(template: &T) -> Result<HttpResponse, AppError> {
    render_with_status(template, actix_web::http::StatusCode::OK)
}

/// Renders a template with a status: a form shown again with its mistakes is a 400 or 422.
pub fn render_with_status<T: Template>(
    template: &T,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    let body = template.render()?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// A 303 redirect (the answer to a successful form post).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// A file download (`Content-Disposition: attachment`), never cached; the caller adds the
/// body (or the stream).
pub fn download(content_type: &'static str, filename: &str) -> HttpResponseBuilder {
    let mut builder = HttpResponse::Ok();
    builder
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ));
    builder
}

/// A 303 redirect that shows a flash message on arrival.
pub fn see_other_with_flash(location: &str, flash_key: &str) -> HttpResponse {
    let separator = if location.contains('?') { '&' } else { '?' };
    see_other(&format!("{location}{separator}flash={flash_key}"))
}

/// A safe place to go after login: only a path on this site. Browsers drop tabs and line
/// breaks anywhere in a URL and read `\` as `/`, so `/%09/evil.example` would take them to
/// `//evil.example`: a control character or a backslash refuses the value, and what is left
/// must resolve on this origin. The answer is the resolved path, query and fragment, encoded
/// as a browser would send them.
pub fn safe_next(next: Option<&str>) -> String {
    const FALLBACK: &str = super::paths::INBOX.path();
    let Some(path) = next else {
        return FALLBACK.to_owned();
    };
    let plain = path.chars().all(|c| !c.is_control() && c != '\\');
    if !plain || !path.starts_with('/') || path.starts_with("//") {
        return FALLBACK.to_owned();
    }
    let Ok(base) = url::Url::parse("http://lethe.invalid/") else {
        return FALLBACK.to_owned();
    };
    match base.join(path) {
        Ok(resolved) if resolved.origin() == base.origin() => {
            let mut out = resolved.path().to_owned();
            if let Some(query) = resolved.query() {
                out.push('?');
                out.push_str(query);
            }
            if let Some(fragment) = resolved.fragment() {
                out.push('#');
                out.push_str(fragment);
            }
            out
        }
        _ => FALLBACK.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_keeps_paths_on_this_site() {
        for path in ["/inbox", "/conversations/7?tab=notes", "/search?q=a%2Fb"] {
            assert_eq!(safe_next(Some(path)), path);
        }
    }

    #[test]
    fn next_refuses_anything_a_browser_could_take_elsewhere() {
        for next in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "https://evil.example/",
            "evil.example",
            "javascript:alert(1)",
            "/\u{0}/x",
            "",
        ] {
            assert_eq!(safe_next(Some(next)), "/inbox", "{next:?}");
        }
        assert_eq!(safe_next(None), "/inbox");
    }

    #[test]
    fn spaces_come_back_encoded_as_a_path() {
        assert_eq!(safe_next(Some("/ /evil.example")), "/%20/evil.example");
        assert_eq!(
            safe_next(Some("/search?q=two words")),
            "/search?q=two%20words"
        );
    }
}
