//! Where the hub keeps its state: an SQLite file (the default, built in) or a PostgreSQL server
//! (`postgres://` / `postgresql://` URLs, in a build with the `postgres` feature). The URL can
//! hold a password, so it is a [`Secret`]: it prints only [`PostgresUrl::redacted`].

use std::{fmt, path::PathBuf};

use super::Secret;

/// What a PostgreSQL URL in a build without the feature is told.
pub const POSTGRES_FEATURE_MISSING: &str = "a PostgreSQL URL needs obs-hub built with the \
     `postgres` cargo feature (cargo install --path . --features postgres; it needs libpq)";

/// A `postgres://` or `postgresql://` URL, as libpq takes it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(Secret);

impl PostgresUrl {
    /// Some when `value` names a PostgreSQL server (by its scheme), None for a file path.
    pub fn parse(value: &str) -> Option<Self> {
        let lower = value.trim().to_ascii_lowercase();
        (lower.starts_with("postgres://") || lower.starts_with("postgresql://"))
            .then(|| Self(Secret::new(value.trim())))
    }

    /// The URL itself, password included: only for libpq.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The URL without its password (in the user part or as a `password=` parameter), for logs
    /// and messages: `postgres://hub:***@127.0.0.1:5432/obs_hub`.
    pub fn redacted(&self) -> String {
        let url = self.0.expose();
        let Some((scheme, rest)) = url.split_once("://") else {
            return "postgres://***".to_string();
        };
        let (authority_end, _) = rest
            .char_indices()
            .find(|(_, c)| *c == '/' || *c == '?')
            .unwrap_or((rest.len(), ' '));
        let (authority, tail) = rest.split_at(authority_end);
        let authority = match authority.rsplit_once('@') {
            Some((user, host)) => match user.split_once(':') {
                Some((name, _password)) => format!("{name}:***@{host}"),
                None => format!("{user}@{host}"),
            },
            None => authority.to_string(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                            format!("{key}=***")
                        }
                        _ => pair.to_string(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => tail.to_string(),
        };
        format!("{scheme}://{authority}{tail}")
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({})", self.redacted())
    }
}

/// The database the hub opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// An SQLite file, created on first start.
    Sqlite(PathBuf),
    /// A PostgreSQL database (which must exist; the hub creates its tables).
    Postgres(PostgresUrl),
}

impl fmt::Display for DatabaseLocation {
    /// The file's path, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&url.redacted()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_recognised_by_their_scheme() {
        assert!(PostgresUrl::parse("postgres://h/db").is_some());
        assert!(PostgresUrl::parse("PostgreSQL://h/db").is_some());
        assert!(PostgresUrl::parse("obs-hub.db").is_none());
        assert!(PostgresUrl::parse("/var/lib/postgres/hub.db").is_none());
    }

    #[test]
    fn the_password_never_prints() {
        for (url, shown) in [
            (
                "postgres://hub:s3cret@127.0.0.1:5432/obs?sslmode=disable",
                "postgres://hub:***@127.0.0.1:5432/obs?sslmode=disable",
            ),
            (
                "postgresql://hub@localhost/obs?password=s3cret&application_name=x",
                "postgresql://hub@localhost/obs?password=***&application_name=x",
            ),
            ("postgres://a:b:s3cret@h", "postgres://a:***@h"),
            ("postgres://localhost", "postgres://localhost"),
        ] {
            let parsed = PostgresUrl::parse(url).unwrap();
            assert_eq!(parsed.redacted(), shown);
            let location = DatabaseLocation::Postgres(parsed);
            for text in [format!("{location}"), format!("{location:?}")] {
                assert!(!text.contains("s3cret"), "{text}");
            }
        }
    }
}
