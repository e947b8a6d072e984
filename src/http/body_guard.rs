//! What a request body may cost the hub before the hub knows who sent it (issue 10, item 5).
//!
//! A client that sends its headers and then its body a byte at a time holds a socket (a file
//! descriptor) and a buffer for as long as it likes; a thousand of them exhaust the descriptors
//! and lock everyone out. Two bounds live here:
//!
//! - [`deadline`], a middleware for every route: a body not fully received
//!   `[http] body_timeout_ms` after its headers ends in an error that `body::read` answers with
//!   408 `body_timeout`, and the connection is closed;
//! - [`UnauthenticatedSlots`]: the callback routes must read a signed body before they can check
//!   its signature; they hold a slot while they do, and past `[http] max_unauthenticated` a
//!   request is refused at once (503), so a flood of forged signatures cannot crowd out token
//!   holders, whose token is checked from the headers alone.
//!
//! What is refused from the headers alone (missing or wrong token, missing, malformed or stale
//! signature headers) never has its body read: see `callbacks::precheck` in `webhooks`.

use std::{
    cell::RefCell,
    fmt,
    future::Future,
    io,
    pin::Pin,
    rc::Rc,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    body::{BodySize, BoxBody, EitherBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::header::{HeaderMap, CONTENT_LENGTH, TRANSFER_ENCODING},
    middleware::Next,
    web, HttpMessage,
};
use futures_util::Stream;
use tokio::time::{sleep_until, Instant, Sleep};

use super::AppState;
use crate::error::ApiError;

/// The error a timed-out body stream ends with (inside a `PayloadError::Io`), recognised by
/// [`timed_out`].
#[derive(Debug)]
struct BodyTimedOut {
    limit: Duration,
}

impl fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request body not received within {} ms",
            self.limit.as_millis()
        )
    }
}

impl std::error::Error for BodyTimedOut {}

/// The 408 for a body read error that is a body timeout; None for any other error.
pub fn timed_out(error: &actix_web::Error) -> Option<ApiError> {
    let PayloadError::Io(error) = error.as_error::<PayloadError>()? else {
        return None;
    };
    let timeout = error.get_ref()?.downcast_ref::<BodyTimedOut>()?;
    Some(ApiError::BodyTimeout {
        timeout_ms: timeout.limit.as_millis(),
    })
}

/// A request body that fails once `limit` has passed since it was wrapped.
struct Deadline {
    /// Shared with the answer ([`HoldingPayload`]), which keeps it alive until it is sent.
    inner: Rc<RefCell<Payload>>,
    /// Created when the body first has to be waited for: most bodies are already in.
    timer: Option<Pin<Box<Sleep>>>,
    at: Instant,
    limit: Duration,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut *this.inner.borrow_mut()).poll_next(cx) {
            return Poll::Ready(item);
        }
        let at = this.at;
        let timer = this.timer.get_or_insert_with(|| Box::pin(sleep_until(at)));
        match timer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                this.expired = true;
                let error =
                    io::Error::new(io::ErrorKind::TimedOut, BodyTimedOut { limit: this.limit });
                Poll::Ready(Some(Err(PayloadError::Io(error))))
            }
        }
    }
}

/// Whether a request announces a body (GETs and empty POSTs are left alone: no timer for them).
pub(crate) fn announces_body(headers: &HeaderMap) -> bool {
    let empty = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|length| length.trim() == "0");
    headers.contains_key(TRANSFER_ENCODING) || (headers.contains_key(CONTENT_LENGTH) && !empty)
}

/// An answer that keeps its request's body alive until the answer is sent.
///
/// actix-http closes a connection whose request body was not read when the answer goes out,
/// unless the body was dropped and is chunked: then it reads ("drains") the rest first, with no
/// time limit, so a refused client sending a chunked body slowly would keep its socket. Kept
/// alive, the unread body makes actix-http close the connection (after at most the 1 s
/// `client_disconnect_timeout`).
pub struct HoldingPayload {
    answer: BoxBody,
    _request_body: Rc<RefCell<Payload>>,
}

impl MessageBody for HoldingPayload {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.answer.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().answer).poll_next(cx)
    }
}

/// Middleware for the whole app: the body must be complete `[http] body_timeout_ms` after the
/// headers, whoever reads it, and an answer given before the body is in closes the connection.
pub async fn deadline<B: MessageBody + 'static>(
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, HoldingPayload>>, actix_web::Error> {
    let limit = request
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.http.body_timeout);
    let Some(limit) = limit.filter(|_| announces_body(request.headers())) else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    let inner = Rc::new(RefCell::new(request.take_payload()));
    let body = Deadline {
        inner: Rc::clone(&inner),
        timer: None,
        at: Instant::now() + limit,
        limit,
        expired: false,
    };
    request.set_payload(Payload::Stream {
        payload: Box::pin(body),
    });
    // An inner middleware's error would be turned into an answer only after this one has let
    // go of the body: middleware refusals answer Ok(error response) instead (see
    // `auth::require_token`).
    let response = next.call(request).await?;
    Ok(response
        .map_body(|_, answer| HoldingPayload {
            answer: answer.boxed(),
            _request_body: inner,
        })
        .map_into_right_body())
}

/// Counts requests whose body is being read before they can be authenticated; shared by every
/// HTTP worker.
#[derive(Clone, Debug)]
pub struct UnauthenticatedSlots {
    in_use: Arc<AtomicUsize>,
    max: usize,
}

/// One request's place among the unauthenticated ones, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    in_use: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

impl UnauthenticatedSlots {
    pub fn new(max: usize) -> Self {
        Self {
            in_use: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A slot, or the 503 to answer when all are taken.
    pub fn acquire(&self) -> Result<Slot, ApiError> {
        let taken = self
            .in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(Slot {
                in_use: Arc::clone(&self.in_use),
            }),
            Err(_) => Err(ApiError::TooManyUnauthenticated(format!(
                "{} signed callbacks are already being received and checked; retry in a \
                 moment (an API token is checked from the headers and is not limited)",
                self.max
            ))),
        }
    }

    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;
    use futures_util::StreamExt;

    use super::*;

    #[test]
    fn slots_are_bounded_and_given_back() {
        let slots = UnauthenticatedSlots::new(2);
        let first = slots.acquire().unwrap();
        let second = slots.acquire().unwrap();
        let refused = slots.acquire().unwrap_err();
        assert_eq!(refused.code(), "too_many_unauthenticated");
        assert_eq!(slots.in_use(), 2);
        drop(first);
        assert_eq!(slots.in_use(), 1);
        let third = slots.acquire().unwrap();
        drop((second, third));
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn only_requests_with_a_body_get_a_deadline() {
        let mut headers = HeaderMap::new();
        assert!(!announces_body(&headers));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        assert!(!announces_body(&headers));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("12"));
        assert!(announces_body(&headers));
        let mut chunked = HeaderMap::new();
        chunked.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        assert!(announces_body(&chunked));
    }

    #[actix_web::test]
    async fn a_body_that_stalls_ends_in_a_timeout_error() {
        // A client that sends the start of its body, then nothing.
        let stalled = futures_util::stream::iter([Ok(web::Bytes::from_static(b"{\"scene"))])
            .chain(futures_util::stream::pending());
        let limit = Duration::from_millis(20);
        let mut body = Deadline {
            inner: Rc::new(RefCell::new(Payload::Stream {
                payload: Box::pin(stalled),
            })),
            timer: None,
            at: Instant::now() + limit,
            limit,
            expired: false,
        };
        let first = body.next().await.unwrap().unwrap();
        assert_eq!(&first[..], b"{\"scene");
        let error = body.next().await.unwrap().unwrap_err();
        let answer = timed_out(&error.into()).expect("recognised as a body timeout");
        assert_eq!(answer.code(), "body_timeout");
        assert!(answer.to_string().contains("20 ms"), "{answer}");
        assert!(body.next().await.is_none());
        assert!(timed_out(&PayloadError::Incomplete(None).into()).is_none());
    }
}
