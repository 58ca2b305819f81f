//! `fake-graph`: the lab's Microsoft 365 simulator (token endpoint and Graph) as a program.
//!
//!     fake-graph --cert PEM --key PEM --app JSON [--mailboxes JSON] [--listen ADDR]
//!                [--control ADDR] [--capture-dir DIR]
//!
//! Prints `listening https://ADDR control http://ADDR` once ready, and serves until its stdin
//! closes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use lab::graph::server::{self, Simulator};
use lab::graph::tenant::App;
use tokio::io::AsyncReadExt;

fn main() -> ExitCode {
    let mut options: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(name) = args.next() {
        let (Some(key), Some(value)) = (name.strip_prefix("--"), args.next()) else {
            eprintln!("fake-graph: unexpected argument {name}");
            return ExitCode::from(2);
        };
        options.insert(key.to_owned(), value);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fake-graph: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-graph: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: &HashMap<String, String>) -> Result<(), String> {
    let get = |name: &str| {
        options
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required"))
    };
    let cert_pem = std::fs::read(get("cert")?).map_err(|e| format!("cannot read --cert: {e}"))?;
    let key_pem = std::fs::read(get("key")?).map_err(|e| format!("cannot read --key: {e}"))?;
    let identity = native_tls::Identity::from_pkcs8(&cert_pem, &key_pem)
        .map_err(|e| format!("the certificate or key is unusable: {e}"))?;
    let acceptor = native_tls::TlsAcceptor::new(identity).map_err(|e| e.to_string())?;
    let app: App = serde_json::from_str(&get("app")?).map_err(|e| format!("--app: {e}"))?;
    let mailboxes: Vec<serde_json::Value> = match options.get("mailboxes") {
        Some(json) => serde_json::from_str(json).map_err(|e| format!("--mailboxes: {e}"))?,
        None => Vec::new(),
    };
    let simulator = Simulator::new(
        app,
        options.get("capture-dir").map(PathBuf::from),
        &mailboxes,
    );
    let listen = options.get("listen").map_or("127.0.0.1:0", String::as_str);
    let control = options.get("control").map_or("127.0.0.1:0", String::as_str);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let control_listener = tokio::net::TcpListener::bind(control)
        .await
        .map_err(|e| format!("cannot listen on {control}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let control_address = control_listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(server::serve(
        std::sync::Arc::clone(&simulator),
        listener,
        tokio_native_tls::TlsAcceptor::from(acceptor),
    ));
    tokio::spawn(server::serve_control(simulator, control_listener));
    println!("listening https://{address} control http://{control_address}");
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while stdin.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    Ok(())
}
