//! The server on tokio: a multi-thread runtime with two workers, a task
//! per connection, and the shards behind a mutex each, executed by the
//! connection's task itself (as `Form::Mutex` on hearth).

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};

use super::hearth_server::{WORKERS, gone};
use super::resp::{Input, Request};
use super::server::announce;
use super::store::Shards;

/// Serves until SIGTERM.
pub(crate) fn serve() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|err| format!("binding: {err}"))?;
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|err| format!("SIGTERM handler: {err}"))?;
        announce(listener.local_addr().map_err(|err| err.to_string())?)?;
        let shards = Arc::new(Shards::new(WORKERS));
        loop {
            tokio::select! {
                _ = terminate.recv() => return Ok(()),
                accepted = listener.accept() => {
                    let (stream, _) = accepted.map_err(|err| format!("accept: {err}"))?;
                    let shards = shards.clone();
                    drop(tokio::spawn(async move {
                        if let Err(err) = connection(stream, &shards).await {
                            eprintln!("redis server (tokio): connection: {err}");
                        }
                    }));
                }
            }
        }
    })
}

/// One client, as `hearth_server::connection` with mutex shards.
async fn connection(mut stream: TcpStream, shards: &Shards) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut input = Input::default();
    let mut out = Vec::with_capacity(16 * 1024);
    loop {
        match stream.read(input.spare()).await {
            Ok(0) => return Ok(()),
            Ok(n) => input.filled(n),
            Err(err) if gone(&err) => return Ok(()),
            Err(err) => return Err(err),
        }
        let answered = loop {
            match input.next() {
                Ok(None) => break Ok(()),
                Ok(Some(Request::Local(reply))) => reply.encode(&mut out),
                Ok(Some(Request::Store(command))) => shards.execute(command).encode(&mut out),
                Err(err) => {
                    err.reply().encode(&mut out);
                    break Err(());
                }
            }
        };
        let written = stream.write_all(&out).await;
        out.clear();
        match written {
            Err(err) if gone(&err) => return Ok(()),
            result => result?,
        }
        if answered.is_err() {
            return Ok(());
        }
    }
}
