//! "Ask an actor, map its error": the one way handlers send a message and wait for its answer.
//!
//! Two things can fail: the actor does not answer (its mailbox is closed or full while it
//! restarts: a 503 naming it, from [`Asked::WHAT`]), and its answer is an error of its own (a
//! `Result` reply, mapped by the caller's function). [`route`] is the common case of asking an
//! instance's connection, through the supervisor, to run a command.

use actix::{dev::ToEnvelope, Actor, Addr, Handler, Message};

use crate::{
    error::ApiError,
    obs::{CommandError, CommandOutcome, ConnectionSupervisor, ObsCommand, Route},
    webhooks::dispatcher::WebhookDispatcher,
};

/// An actor the handlers ask, named for the 503 answered when it does not answer.
pub trait Asked: Actor {
    const WHAT: &'static str;
}

impl Asked for ConnectionSupervisor {
    const WHAT: &'static str = "the hub's supervisor";
}

impl Asked for crate::status::StatusManager {
    const WHAT: &'static str = "the hub's status manager";
}

impl Asked for WebhookDispatcher {
    const WHAT: &'static str = "the webhook dispatcher";
}

/// Sends `message` to `actor` and answers its reply.
pub async fn ask<A, M>(actor: &Addr<A>, message: M) -> Result<M::Result, ApiError>
where
    A: Asked + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    actor.send(message).await.map_err(|_| {
        ApiError::Unavailable(format!("{} is not answering; retry in a moment", A::WHAT))
    })
}

/// [`ask`] for a message answered with a `Result`: its error becomes `refused(error)`.
pub async fn ask_for<A, M, T, E>(
    actor: &Addr<A>,
    message: M,
    refused: impl FnOnce(E) -> ApiError,
) -> Result<T, ApiError>
where
    A: Asked + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message<Result = Result<T, E>> + Send + 'static,
    T: Send,
    E: Send,
{
    ask(actor, message).await?.map_err(refused)
}

/// [`route`] for a capability whose commands answer with one kind of outcome, which `unwrap`
/// takes out (another kind is a bug of the connection: a 503 that says so); `refused` words a
/// failure in the capability's terms.
pub async fn command<T>(
    supervisor: &Addr<ConnectionSupervisor>,
    instance: &str,
    command: ObsCommand,
    unwrap: fn(CommandOutcome) -> Option<T>,
    refused: impl FnOnce(CommandError) -> ApiError,
) -> Result<T, ApiError> {
    let outcome = route(supervisor, instance, command)
        .await
        .map_err(refused)?;
    unwrap(outcome).ok_or_else(|| {
        ApiError::Unavailable(
            "the connection answered the command with another kind of answer; retry".to_string(),
        )
    })
}

/// Runs `command` on `instance`'s connection. A supervisor that does not answer is reported as
/// the command's own failure (`Unavailable`), so each capability words it with the rest.
pub async fn route(
    supervisor: &Addr<ConnectionSupervisor>,
    instance: &str,
    command: ObsCommand,
) -> Result<CommandOutcome, CommandError> {
    supervisor
        .send(Route {
            instance: instance.to_string(),
            command,
        })
        .await
        .unwrap_or_else(|_| Err(CommandError::Unavailable(instance.to_string())))
}
