//! Pages: `/inbox`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::app::AppState;
use crate::orgs::TenantScope;
use crate::web::{AppError, Page, render};

#[derive(Template)]
#[template(path = "inbox/inbox.html")]
struct InboxPage {
    page: Page,
}

pub async fn inbox(
    state: web::Data<AppState>,
    scope: TenantScope,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let page = Page::new(&state, &scope.session, &req, "inbox").await?;
    render(&InboxPage { page })
}
