//! `fake-graph`: the lab's Microsoft 365 simulator (token endpoint and Graph) as a program.
//!
//!     fake-graph --cert PEM --key PEM --app JSON [--mailboxes JSON] [--listen ADDR]
//!                [--control ADDR] [--capture-dir DIR]
//!
//! Prints `listening https://ADDR control http://ADDR` once ready, and serves until its stdin
//! closes.

use std::path::PathBuf;
use std::process::ExitCode;

use lab::graph::server::{self, Simulator};
use lab::graph::tenant::App;
use lab::program::{self, Options};

fn main() -> ExitCode {
    program::main("fake-graph", run)
}

async fn run(options: Options) -> Result<(), String> {
    let (acceptor, _) = options.tls()?;
    let app: App = options
        .json("app")?
        .ok_or_else(|| "--app is required".to_owned())?;
    let mailboxes: Vec<serde_json::Value> = options.json("mailboxes")?.unwrap_or_default();
    let simulator = Simulator::new(
        app,
        options.optional("capture-dir").map(PathBuf::from),
        &mailboxes,
    );
    let (listener, address) = options.listen("listen").await?;
    let (control_listener, control_address) = options.listen("control").await?;
    tokio::spawn(server::serve(
        std::sync::Arc::clone(&simulator),
        listener,
        acceptor,
    ));
    tokio::spawn(server::serve_control(simulator, control_listener));
    program::serve_until_stdin_closes(&format!("https://{address}"), control_address).await;
    Ok(())
}
