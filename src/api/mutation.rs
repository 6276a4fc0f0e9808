//! What a mutation needs: a method that is not GET and an idempotency key.
//! [`Client::mutate`](super::Client::mutate) takes both, so a mutation cannot
//! be sent without a key.

/// The methods that change something. GET is not one of them: it goes
/// through [`Client::get`](super::Client::get), which needs no idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutationMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl MutationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MutationMethod::Post => "POST",
            MutationMethod::Put => "PUT",
            MutationMethod::Patch => "PATCH",
            MutationMethod::Delete => "DELETE",
        }
    }
}

/// The method as stored in `mutation_jobs.method`; GET (or anything else) is refused.
impl std::str::FromStr for MutationMethod {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<MutationMethod> {
        match s {
            "POST" => Ok(MutationMethod::Post),
            "PUT" => Ok(MutationMethod::Put),
            "PATCH" => Ok(MutationMethod::Patch),
            "DELETE" => Ok(MutationMethod::Delete),
            other => anyhow::bail!("not a mutation method: {other:?} (POST, PUT, PATCH or DELETE)"),
        }
    }
}

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn new(key: impl Into<String>) -> anyhow::Result<IdempotencyKey> {
        let key = key.into();
        anyhow::ensure!(
            (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()),
            "an idempotency key must be 1 to 255 visible ASCII characters"
        );
        Ok(IdempotencyKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_mutating_methods_parse_and_they_print_back_the_same() {
        for text in ["POST", "PUT", "PATCH", "DELETE"] {
            assert_eq!(text.parse::<MutationMethod>().unwrap().as_str(), text);
        }
        assert!("GET".parse::<MutationMethod>().is_err());
        assert!("post".parse::<MutationMethod>().is_err());
    }
}

/// Whether a dry run (`X-TokPortal-Dry-Run: true`) may price this
/// operation: the bundle creations, `POST /bundles` and `/bundles/bulk`, the
/// ones the reference shows priced by a dry run. Slot additions are paid
/// too, but nothing documents that the API honours the header there, and
/// an API that ignored it would execute (and charge) the "dry run": they are
/// not priced.
pub fn is_priced_creation(method: MutationMethod, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default().trim_end_matches('/');
    method == MutationMethod::Post && matches!(path, "/bundles" | "/bundles/bulk")
}

#[cfg(test)]
mod priced_tests {
    use super::*;

    #[test]
    fn only_the_paid_creations_are_priced() {
        for path in ["/bundles", "/bundles/bulk/", "/bundles?x=1"] {
            assert!(is_priced_creation(MutationMethod::Post, path), "{path}");
        }
        for path in
            ["/bundles/b1/add-video-slots", "/bundles/b1/add-edit-slots", "/bundles/b1/publish", "/accounts"]
        {
            assert!(!is_priced_creation(MutationMethod::Post, path), "{path}");
        }
        assert!(!is_priced_creation(MutationMethod::Patch, "/bundles"));
    }
}
