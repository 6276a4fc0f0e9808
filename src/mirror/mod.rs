//! The mirror: streams walked into Postgres.
