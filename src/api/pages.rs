//! The page walker: every item of a list endpoint, one page per call of
//! [`Walk::next_page`], each item delivered once, through the client (and so
//! the budget). Which page to read next is the [`Cursor`]'s decision.

use super::client::Client;
use super::cursor::{Cursor, Page, Read, WalkStats};
use super::error::ApiError;
use super::model::ListPage;

pub struct Walk {
    client: Client,
    path: String,
    query: Vec<(String, String)>,
    cursor: Cursor,
}

impl Walk {
    /// A walk of `path` (with extra `query` filters), `per_page` items a page,
    /// from page 1. The walk owns `page` and `per_page`: a filter naming
    /// either is refused, since a server may honour either of two values of a
    /// repeated parameter and the walk would then go wrong without a sign.
    pub fn new(
        client: Client,
        path: &str,
        query: Vec<(String, String)>,
        per_page: u32,
    ) -> Result<Walk, ApiError> {
        let owned = |name: &str| name == "page" || name == "per_page";
        let in_path = url::form_urlencoded::parse(path.split_once('?').map_or("", |(_, q)| q).as_bytes())
            .map(|(k, _)| k.into_owned())
            .find(|k| owned(k));
        if let Some(name) = query.iter().map(|(k, _)| k.clone()).find(|k| owned(k)).or(in_path) {
            return Err(ApiError::Invalid {
                request: format!("GET {path}"),
                message: format!(
                    "a walk of every page sets `page` and `per_page` itself; remove `{name}` from the query \
                     (api.per_page sets the page size)"
                ),
            });
        }
        Ok(Walk { client, path: path.to_string(), query, cursor: Cursor::new(per_page, 1) })
    }

    /// Starts the walk at `page` instead of 1 (to resume an interrupted walk).
    pub fn starting_at(mut self, page: u32) -> Walk {
        self.cursor = Cursor::new(self.cursor.per_page(), page);
        self
    }

    pub fn stats(&self) -> WalkStats {
        self.cursor.stats()
    }

    /// Reads one page; `None` once every page has been delivered.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ApiError> {
        let Some(read) = self.cursor.next_read() else { return Ok(None) };
        if self.cursor.is_looping() {
            return Err(self.fatal(read, None, String::new(), format!(
                "the walk read {} pages without reaching the end; the list keeps changing or the server ignores `page`",
                self.cursor.stats().pages
            )));
        }
        let mut query = self.query.clone();
        query.push(("page".into(), read.page.to_string()));
        query.push(("per_page".into(), self.cursor.per_page().to_string()));
        let response = self.client.get(&self.path, &query).await?;
        let list = serde_json::from_value::<ListPage>(response.body).map_err(|e| {
            self.fatal(read, Some(response.status), response.request_id, format!("not a page of a list: {e}"))
        })?;
        Ok(Some(self.cursor.absorb(read, list)))
    }

    fn fatal(&self, read: Read, status: Option<u16>, request_id: String, excerpt: String) -> ApiError {
        ApiError::Fatal {
            request: format!("GET {} page {}", self.path, read.page),
            status,
            code: None,
            excerpt,
            request_id,
        }
    }
}
