//! `from_message!`: messages and requests sent as the content of an
//! enum's variants, between two actors on a runtime.

use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::RpcMessage;
use hearth::from_message;
use std::sync::{Arc, Mutex};

use hearth::supervisor::SupervisorStrategy;
use hearth::{ActorOptions, ActorRef, Runtime, ThreadSafe};

#[derive(Debug)]
enum Message {
    Note(String),
    Count(RpcMessage<String, usize>),
    Pair(RpcMessage<(String, usize), (usize, usize)>),
}

from_message!(Message::Note(String));
from_message!(Message::Count(String) -> usize);
from_message!(Message::Pair(String, usize) -> (usize, usize));

/// Sends a note and makes both requests.
async fn asks(_: Context<(), ThreadSafe>, to: ActorRef<Message>) -> Result<(), String> {
    to.send("Hello!".to_owned())
        .await
        .map_err(|err| err.to_string())?;
    let count = to
        .rpc("count".to_owned())
        .await
        .map_err(|err| err.to_string())?;
    let pair = to
        .rpc(("pair".to_owned(), 2))
        .await
        .map_err(|err| err.to_string())?;
    if (count, pair) == (0, (1, 2)) {
        Ok(())
    } else {
        Err(format!("{count}, {pair:?}"))
    }
}

/// Answers in order: the note, then one request of each kind.
async fn answers(mut ctx: Context<Message, ThreadSafe>) -> Result<(), String> {
    let mut seen = Vec::new();
    let mut count = 0;
    while let Ok(msg) = ctx.receive_next().await {
        match msg {
            Message::Note(note) => seen.push(note),
            Message::Count(call) => {
                seen.push(call.request.clone());
                let _ = call.response.respond(count);
                count += 1;
            }
            Message::Pair(RpcMessage {
                request: (what, n),
                response,
            }) => {
                seen.push(what);
                let _ = response.respond((count, n));
                count += n;
            }
        }
    }
    if seen == ["Hello!", "count", "pair"] && count == 3 {
        Ok(())
    } else {
        Err(format!("{seen:?} {count}"))
    }
}

/// A supervisor that keeps the errors it is told and stops the actor.
fn told<Arg>(
    errors: &Arc<Mutex<Vec<String>>>,
) -> impl FnMut(String) -> SupervisorStrategy<Arg> + use<Arg> {
    let errors = errors.clone();
    move |err: String| {
        errors.lock().unwrap().push(err);
        SupervisorStrategy::Stop
    }
}

#[test]
fn variants_from_their_content_and_requests() {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let answerer = runtime.spawn(
        told(&errors),
        actor_fn(answers),
        (),
        ActorOptions::default(),
    );
    let _ = runtime.spawn(
        told(&errors),
        actor_fn(asks),
        answerer,
        ActorOptions::default(),
    );
    runtime.start().unwrap();
    assert!(
        errors.lock().unwrap().is_empty(),
        "{:?}",
        errors.lock().unwrap()
    );
}
