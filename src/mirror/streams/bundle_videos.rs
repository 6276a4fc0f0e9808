//! `GET /bundles/{id}/videos`, planned per bundle, into `tokportal.bundle_videos`.

use super::child::ChildStream;

pub static BUNDLE_VIDEOS: ChildStream =
    ChildStream { name: "bundle_videos", suffix: "videos", table: "tokportal.bundle_videos", videos: true };
