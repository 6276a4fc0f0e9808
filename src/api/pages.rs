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
    /// A walk of `path` (with extra `query` filters), `per_page` items a page.
    pub fn new(client: Client, path: &str, query: Vec<(String, String)>, per_page: u32) -> Walk {
        Walk { client, path: path.to_string(), query, cursor: Cursor::new(per_page, 1) }
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
