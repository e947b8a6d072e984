//! Query strings read into typed structs, for every route that takes one: a bad, unknown or
//! repeated parameter is a 400 `invalid_field` whose message names it (actix's `web::Query`
//! answers in plain text, and for a value of the wrong type does not say which parameter).
//!
//! A route's struct says what it takes (`#[serde(deny_unknown_fields)]` where the API is strict,
//! as the README promises for history, webhook delivery logs and pictures); checks of one value
//! live in that value's own type (see [`Limit`]), so the error comes back with its name.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use serde::{de::DeserializeOwned, Deserialize, Deserializer};

use crate::error::ApiError;

/// A query string as `T`; the extractor of every route that reads one.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(request.query_string()).map(Query))
    }
}

/// Reads `query` (without its `?`) as `T`, naming the parameter that is wrong.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let problem = error.into_inner().to_string();
        ApiError::InvalidField(match (path.as_str(), problem.as_str()) {
            // serde's words, turned into the API's: `unknown field `x`, expected ...`.
            (_, unknown) if unknown.starts_with("unknown field") => {
                unknown.replacen("unknown field", "unknown query parameter", 1)
            }
            (_, repeated) if repeated.starts_with("duplicate field") => format!(
                "{} is given more than once",
                repeated.trim_start_matches("duplicate field ")
            ),
            (".", problem) => format!("the query string: {problem}"),
            // The value types' own messages read on from the name: "`limit` must be ...".
            (name, problem) if problem.starts_with("must") => format!("`{name}` {problem}"),
            (name, problem) => format!("`{name}`: {problem}"),
        })
    })
}

/// A page size: a whole number from 1 to [`Limit::MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(pub i64);

impl Limit {
    pub const DEFAULT: i64 = 50;
    pub const MAX: i64 = 500;

    /// The size asked for, or the default.
    pub fn or_default(limit: Option<Limit>) -> i64 {
        limit.map_or(Self::DEFAULT, |limit| limit.0)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse::<i64>()
            .ok()
            .filter(|limit| (1..=Self::MAX).contains(limit))
            .map(Limit)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "must be a whole number from 1 to {}, not `{text}`",
                    Self::MAX
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Page {
        limit: Option<Limit>,
        width: Option<u32>,
    }

    fn message(query: &str) -> String {
        match parse::<Page>(query) {
            Err(ApiError::InvalidField(message)) => message,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn every_problem_names_its_parameter() {
        for (query, named) in [
            (
                "limit=0",
                "`limit` must be a whole number from 1 to 500, not `0`",
            ),
            ("limit=ten", "`limit`"),
            ("width=wide", "`width`: invalid digit"),
            (
                "limits=5",
                "unknown query parameter `limits`, expected `limit` or `width`",
            ),
            ("limit=5&limit=6", "`limit` is given more than once"),
        ] {
            let message = message(query);
            assert!(message.contains(named), "{query}: {message}");
        }
    }

    /// The extractor answers our JSON error, not actix's plain-text 400.
    #[actix_web::test]
    async fn the_extractor_answers_an_api_error_naming_the_parameter() {
        let request =
            actix_web::test::TestRequest::with_uri("/x?width=8&width=9").to_http_request();
        let error = match Query::<Page>::extract(&request).await {
            Err(error) => error,
            Ok(_) => panic!("a repeated parameter was accepted"),
        };
        let response = actix_web::ResponseError::error_response(&error);
        assert_eq!(response.status(), actix_web::http::StatusCode::BAD_REQUEST);
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "invalid_field");
        assert_eq!(body["message"], "`width` is given more than once");
    }

    #[test]
    fn good_values_and_defaults() {
        let page = parse::<Page>("limit=500&width=8").unwrap();
        assert_eq!(page.limit, Some(Limit(500)));
        assert_eq!(page.width, Some(8));
        let empty = parse::<Page>("").unwrap();
        assert_eq!(Limit::or_default(empty.limit), Limit::DEFAULT);
    }
}
