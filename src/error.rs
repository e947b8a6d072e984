//! The one error type of the HTTP API, with a stable JSON body:
//! `{"error": "<code>", "message": "<what went wrong and what to do>"}` (plus context fields for
//! some codes). Codes are part of the API: clients switch on them, so never rename one.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::connection_state::ConnectionState;

/// The JSON body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `obs_not_connected`.
    pub error: String,
    /// What went wrong and what to do, for a person.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    /// A managed token past its expiry (see `http::tokens`).
    #[error("{0}")]
    TokenExpired(String),
    /// The token's scopes do not include the one the route needs (see `http::scopes`).
    #[error("{0}")]
    ScopeRequired(String),
    /// A `control` token narrowed to other capabilities (e.g. scenes only).
    #[error("{0}")]
    CapabilityNotAllowed(String),
    /// A token narrowed to other instances.
    #[error("{0}")]
    InstanceNotAllowed(String),
    /// The token sent more commands than `[http] commands_per_second` lets through.
    #[error("{message}")]
    RateLimited { retry_after_s: u64, message: String },
    #[error("{0}")]
    OriginNotAllowed(String),
    /// A state-changing request from a page of another site (see `http::site_guard`).
    #[error("{0}")]
    CrossSiteRequest(String),
    /// A `Host` this hub does not answer to without a token (DNS rebinding).
    #[error("{0}")]
    HostNotAllowed(String),
    /// A body whose `Content-Type` is not JSON where JSON is expected.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    WebSocketRequired(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidField(String),
    /// A webhook URL the destination policy refuses (the message names the URL and why).
    #[error("{0}")]
    DestinationNotAllowed(String),
    /// As many webhook endpoints as the configuration allows exist already.
    #[error("{0}")]
    WebhookLimitReached(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error(
        "the request body did not arrive within {timeout_ms} ms of its headers; the connection \
         is closed"
    )]
    BodyTimeout { timeout_ms: u128 },
    /// Too many requests are being read before they can be authenticated (see
    /// `http::body_guard`).
    #[error("{0}")]
    TooManyUnauthenticated(String),
    /// A pairing code that is wrong, used or expired (see `http::pairing`).
    #[error("{0}")]
    PairingCodeInvalid(String),
    /// Too many wrong pairing codes lately: guessing is slowed down for `retry_after_secs`.
    #[error("{message}")]
    TooManyPairingAttempts {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{message}")]
    UnknownInstance { name: String, message: String },
    /// No instance group of that name (`/api/instance-groups/{group}`).
    #[error("{0}")]
    UnknownInstanceGroup(String),
    /// An instance or instance group declared in the config file, which the API may not
    /// change or delete (edit the file).
    #[error("{0}")]
    DeclaredInConfig(String),
    /// An instance or instance group of that name exists already.
    #[error("{0}")]
    NameTaken(String),
    #[error("{0}")]
    UnknownScene(String),
    #[error("{0}")]
    RouteNotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    /// An output OBS does not have: replay buffer not enabled, no virtual camera device.
    #[error("{0}")]
    OutputUnavailable(String),
    /// A recording feature the recording settings do not support (split, chapters).
    #[error("{0}")]
    OutputUnsupported(String),
    #[error("{0}")]
    UnknownOutput(String),
    /// A scene item, input, filter, profile, scene collection or hotkey OBS does not have.
    #[error("{0}")]
    UnknownSource(String),
    /// OBS is switching scene collections and refuses requests until it is done.
    #[error("{0}")]
    CollectionChanging(String),
    /// A preview or take asked of an OBS that is not in studio mode.
    #[error("{0}")]
    StudioModeOff(String),
    #[error("{0}")]
    UnknownTransition(String),
    #[error("{message}")]
    NotConnected {
        instance: String,
        state: ConnectionState,
        message: String,
    },
    #[error("{0}")]
    Unavailable(String),
    /// A cluster: no node owns the instance right now (a takeover is under way).
    #[error("{0}")]
    InstanceUnowned(String),
    /// A cluster: a request forwarded here about an instance this node no longer owns.
    #[error("{0}")]
    InstanceMoving(String),
    /// A cluster: the node owning the instance did not answer a forwarded request.
    #[error("{0}")]
    OwnerUnreachable(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    ObsRejected(String),
    /// The history cannot be read: persistence is disabled, or the database fails.
    #[error("{0}")]
    PersistenceUnavailable(String),
    /// A rule that does not validate; the message starts with the JSON path of the mistake.
    #[error("{0}")]
    InvalidRule(String),
    #[error("{0}")]
    UnknownRule(String),
    /// A rule declared in the config file: read-only through the API.
    #[error("{0}")]
    RuleReadOnly(String),
    /// A cluster's route asked of a hub running alone.
    #[error("{0}")]
    NotACluster(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::TokenExpired(_) => "token_expired",
            Self::ScopeRequired(_) => "scope_required",
            Self::CapabilityNotAllowed(_) => "capability_not_allowed",
            Self::InstanceNotAllowed(_) => "instance_not_allowed",
            Self::RateLimited { .. } => "rate_limited",
            Self::OriginNotAllowed(_) => "origin_not_allowed",
            Self::CrossSiteRequest(_) => "cross_site_request",
            Self::HostNotAllowed(_) => "host_not_allowed",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::WebSocketRequired(_) => "websocket_required",
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidField(_) => "invalid_field",
            Self::DestinationNotAllowed(_) => "destination_not_allowed",
            Self::WebhookLimitReached(_) => "webhook_limit_reached",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::TooManyUnauthenticated(_) => "too_many_unauthenticated",
            Self::PairingCodeInvalid(_) => "pairing_code_invalid",
            Self::TooManyPairingAttempts { .. } => "too_many_pairing_attempts",
            Self::UnknownInstance { .. } => "unknown_instance",
            Self::UnknownInstanceGroup(_) => "unknown_instance_group",
            Self::DeclaredInConfig(_) => "declared_in_config",
            Self::NameTaken(_) => "name_taken",
            Self::UnknownScene(_) => "unknown_scene",
            Self::RouteNotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::OutputUnavailable(_) => "output_unavailable",
            Self::OutputUnsupported(_) => "output_unsupported",
            Self::UnknownOutput(_) => "unknown_output",
            Self::UnknownSource(_) => "unknown_source",
            Self::CollectionChanging(_) => "collection_changing",
            Self::StudioModeOff(_) => "studio_mode_off",
            Self::UnknownTransition(_) => "unknown_transition",
            Self::NotConnected { .. } => "obs_not_connected",
            Self::Unavailable(_) => "unavailable",
            Self::InstanceUnowned(_) => "instance_unowned",
            Self::InstanceMoving(_) => "instance_moving",
            Self::OwnerUnreachable(_) => "owner_unreachable",
            Self::Timeout(_) => "obs_timeout",
            Self::ObsRejected(_) => "obs_error",
            Self::PersistenceUnavailable(_) => "persistence_unavailable",
            Self::InvalidRule(_) => "invalid_rule",
            Self::UnknownRule(_) => "unknown_rule",
            Self::RuleReadOnly(_) => "rule_read_only",
            Self::NotACluster(_) => "not_a_cluster",
        }
    }

    pub fn unknown_instance(name: &str, known: &[String]) -> Self {
        let message = if known.is_empty() {
            format!("no OBS instance named `{name}`")
        } else {
            format!(
                "no OBS instance named `{name}`; configured: {}",
                known.join(", ")
            )
        };
        Self::UnknownInstance {
            name: name.to_string(),
            message,
        }
    }

    /// Answers after which the connection is closed: the body may not have been read (or not
    /// all of it), and a client refused before its body must not keep the socket by sending
    /// the rest slowly.
    fn closes_connection(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized(_)
                | Self::TokenExpired(_)
                | Self::PayloadTooLarge { .. }
                | Self::BodyTimeout { .. }
                | Self::TooManyUnauthenticated(_)
        )
    }

    pub(crate) fn body(&self) -> ErrorBody {
        let mut body = ErrorBody {
            error: self.code().to_string(),
            message: self.to_string(),
            instance: None,
            connection_state: None,
            limit_bytes: None,
        };
        match self {
            Self::NotConnected {
                instance, state, ..
            } => {
                body.instance = Some(instance.clone());
                body.connection_state = Some(*state);
            }
            Self::UnknownInstance { name, .. } => body.instance = Some(name.clone()),
            Self::PayloadTooLarge { limit } => body.limit_bytes = Some(*limit),
            _ => {}
        }
        body
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) | Self::TokenExpired(_) => StatusCode::UNAUTHORIZED,
            Self::ScopeRequired(_)
            | Self::CapabilityNotAllowed(_)
            | Self::InstanceNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::OriginNotAllowed(_) | Self::CrossSiteRequest(_) => StatusCode::FORBIDDEN,
            Self::HostNotAllowed(_) => StatusCode::MISDIRECTED_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::WebSocketRequired(_) => StatusCode::BAD_REQUEST,
            Self::InvalidJson(_)
            | Self::InvalidField(_)
            | Self::DestinationNotAllowed(_)
            | Self::InvalidRule(_) => StatusCode::BAD_REQUEST,
            Self::UnknownRule(_) => StatusCode::NOT_FOUND,
            Self::RuleReadOnly(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyUnauthenticated(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::PairingCodeInvalid(_) => StatusCode::UNAUTHORIZED,
            Self::TooManyPairingAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UnknownInstance { .. }
            | Self::UnknownInstanceGroup(_)
            | Self::UnknownScene(_)
            | Self::RouteNotFound(_)
            | Self::NotACluster(_) => StatusCode::NOT_FOUND,
            Self::DeclaredInConfig(_) | Self::NameTaken(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_)
            | Self::WebhookLimitReached(_)
            | Self::OutputUnavailable(_)
            | Self::OutputUnsupported(_) => StatusCode::CONFLICT,
            Self::UnknownOutput(_) | Self::UnknownSource(_) | Self::UnknownTransition(_) => {
                StatusCode::NOT_FOUND
            }
            Self::CollectionChanging(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::StudioModeOff(_) => StatusCode::CONFLICT,
            Self::NotConnected { .. } | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::InstanceUnowned(_) | Self::InstanceMoving(_) | Self::OwnerUnreachable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::ObsRejected(_) => StatusCode::BAD_GATEWAY,
            Self::PersistenceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Self::Unauthorized(_) | Self::TokenExpired(_) = self {
            response.insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                r#"Bearer realm="obs-hub""#,
            ));
        }
        if let Self::CollectionChanging(_) = self {
            // A switch takes a second or two; clients that honour the header come back then.
            response.insert_header((actix_web::http::header::RETRY_AFTER, "2"));
        }
        if self.closes_connection() {
            response.force_close();
        }
        if let Self::TooManyUnauthenticated(_)
        | Self::InstanceUnowned(_)
        | Self::InstanceMoving(_)
        | Self::OwnerUnreachable(_) = self
        {
            // A lease moves within a heartbeat or two.
            response.insert_header((actix_web::http::header::RETRY_AFTER, "1"));
        }
        if let Self::RateLimited { retry_after_s, .. } = self {
            response.insert_header((
                actix_web::http::header::RETRY_AFTER,
                retry_after_s.to_string(),
            ));
        }
        if let Self::TooManyPairingAttempts {
            retry_after_secs, ..
        } = self
        {
            let wait = retry_after_secs.to_string();
            response.insert_header((actix_web::http::header::RETRY_AFTER, wait));
        }
        response.json(self.body())
    }
}
