//! Path normalisation for every route: trailing slashes are optional (the seed's paths end in
//! one) and repeated slashes count as one, as with actix-web's `NormalizePath::trim`.
//!
//! Why our own: `NormalizePath` copies the path, runs a regular expression over it and builds
//! an index map on every request, also when nothing changes; on a cached status read that was a
//! noticeable share of the hub's time (issue 23). Here a path that is already normal costs one
//! scan, and one that is not (`/api/stream-status/`) is rewritten once, with the same result.

use std::future::{ready, Ready};

use actix_web::{
    dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform, Url},
    http::uri::{PathAndQuery, Uri},
    web::Bytes,
    Error,
};

/// The normal form of `path`: trailing slashes trimmed, runs of slashes merged, `/` for a path
/// of slashes only. `None` when `path` is already normal (or empty: no path to normalise).
pub fn normalized(path: &str) -> Option<String> {
    let needs_work = path.contains("//") || (path.len() > 1 && path.ends_with('/'));
    if path.is_empty() || !needs_work {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    let mut previous_slash = false;
    for c in path.trim_end_matches('/').chars() {
        if c == '/' && previous_slash {
            continue;
        }
        previous_slash = c == '/';
        out.push(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    (out != path).then_some(out)
}

/// The middleware (wrap it on the `App`, before routing).
pub struct NormalizeSlashes;

impl<S, B> Transform<S, ServiceRequest> for NormalizeSlashes
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = NormalizeSlashesService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(NormalizeSlashesService { service }))
    }
}

pub struct NormalizeSlashesService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for NormalizeSlashesService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        if let Some(path) = normalized(request.head().uri.path()) {
            if let Some(uri) = with_path(&request.head().uri, &path) {
                // Nothing has been matched yet (this runs before routing): the router's view
                // of the path simply starts over from the new URI.
                request.match_info_mut().set(Url::new(uri.clone()));
                request.head_mut().uri = uri;
            }
        }
        self.service.call(request)
    }
}

/// `uri` with its path replaced (its query kept); `None` if that is not a valid URI, in which
/// case the request goes on as it came (the router answers it).
fn with_path(uri: &Uri, path: &str) -> Option<Uri> {
    let mut parts = uri.clone().into_parts();
    let path_and_query = match parts.path_and_query.as_ref().and_then(|pq| pq.query()) {
        Some(query) => Bytes::from(format!("{path}?{query}")),
        None => Bytes::copy_from_slice(path.as_bytes()),
    };
    parts.path_and_query = Some(PathAndQuery::from_maybe_shared(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_as_normalize_path_trim_does() {
        for (path, expected) in [
            ("/api/stream-status/", Some("/api/stream-status")),
            ("/api/stream-status///", Some("/api/stream-status")),
            (
                "/api//instances///a/stream-status/",
                Some("/api/instances/a/stream-status"),
            ),
            ("//", Some("/")),
            ("/", None),
            ("", None),
            ("/api/stream-status", None),
            ("/static/app.js", None),
        ] {
            assert_eq!(normalized(path).as_deref(), expected, "{path}");
        }
    }

    #[test]
    fn the_query_is_kept() {
        let uri: Uri = "/api/events/?limit=5".parse().expect("valid");
        let rewritten = with_path(&uri, "/api/events").expect("valid");
        assert_eq!(rewritten.to_string(), "/api/events?limit=5");
    }
}
