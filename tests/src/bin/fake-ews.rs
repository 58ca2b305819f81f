//! `fake-ews`: the lab's Exchange simulator as a program.
//!
//!     fake-ews --cert PEM --key PEM --ldap-uri ldaps://… --ldap-user UPN --ldap-password-file FILE
//!              --ca-file PEM --base DN --smb-conf FILE --winbind-socket-dir DIR
//!              [--listen ADDR] [--http-listen ADDR] [--control ADDR]
//!              [--capture-dir DIR] [--settings JSON] [--cultures JSON]
//!
//! Prints `listening https://ADDR/EWS/Exchange.asmx control http://ADDR` once ready, and serves
//! until its stdin closes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use lab::exchange::auth::HelperEnvironment;
use lab::exchange::directory::{Directory, DirectorySettings};
use lab::exchange::server::{self, Settings, Simulator};
use tokio::io::AsyncReadExt;

fn main() -> ExitCode {
    let mut options: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(name) = args.next() {
        let Some(key) = name.strip_prefix("--") else {
            eprintln!("fake-ews: unexpected argument {name}");
            return ExitCode::from(2);
        };
        let Some(value) = args.next() else {
            eprintln!("fake-ews: {name} needs a value");
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
            eprintln!("fake-ews: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-ews: {e}");
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
    let certificate_der = openssl::x509::X509::from_pem(&cert_pem)
        .and_then(|c| c.to_der())
        .map_err(|e| format!("--cert: {e}"))?;
    let identity = native_tls::Identity::from_pkcs8(&cert_pem, &key_pem)
        .map_err(|e| format!("the certificate or key is unusable: {e}"))?;
    let acceptor = native_tls::TlsAcceptor::new(identity).map_err(|e| e.to_string())?;
    let directory = Directory::load(DirectorySettings {
        uri: get("ldap-uri")?,
        user: get("ldap-user")?,
        password_file: PathBuf::from(get("ldap-password-file")?),
        ca_file: PathBuf::from(get("ca-file")?),
        base: get("base")?,
    })?;
    let settings: Settings = match options.get("settings") {
        Some(json) => serde_json::from_str(json).map_err(|e| format!("--settings: {e}"))?,
        None => Settings::default(),
    };
    let capture_dir = options.get("capture-dir").map(PathBuf::from);
    let helpers =
        HelperEnvironment::for_socket_dir(std::path::Path::new(&get("winbind-socket-dir")?))?;
    let simulator = Simulator::new(
        directory,
        PathBuf::from(get("smb-conf")?),
        helpers,
        certificate_der,
        capture_dir,
        settings,
    );
    if let Some(json) = options.get("cultures") {
        let cultures: HashMap<String, String> =
            serde_json::from_str(json).map_err(|e| format!("--cultures: {e}"))?;
        simulator.set_cultures(&cultures);
    }
    let listen = options.get("listen").map_or("127.0.0.1:0", String::as_str);
    let control = options.get("control").map_or("127.0.0.1:0", String::as_str);
    let ews_listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let control_listener = tokio::net::TcpListener::bind(control)
        .await
        .map_err(|e| format!("cannot listen on {control}: {e}"))?;
    let ews_address = ews_listener.local_addr().map_err(|e| e.to_string())?;
    let control_address = control_listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(server::serve_ews(
        std::sync::Arc::clone(&simulator),
        ews_listener,
        tokio_native_tls::TlsAcceptor::from(acceptor),
    ));
    if let Some(http) = options.get("http-listen") {
        let listener = tokio::net::TcpListener::bind(http)
            .await
            .map_err(|e| format!("cannot listen on {http}: {e}"))?;
        tokio::spawn(server::serve_http(
            std::sync::Arc::clone(&simulator),
            listener,
        ));
    }
    tokio::spawn(server::serve_control(simulator, control_listener));
    println!("listening https://{ews_address}/EWS/Exchange.asmx control http://{control_address}");
    // Serve until whoever started us closes our stdin (or goes away).
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while stdin.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    Ok(())
}
