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
use lab::program::{self, Options};

fn main() -> ExitCode {
    program::main("fake-ews", run)
}

async fn run(options: Options) -> Result<(), String> {
    let (acceptor, certificate_der) = options.tls()?;
    let directory = Directory::load(DirectorySettings {
        uri: options.required("ldap-uri")?,
        user: options.required("ldap-user")?,
        password_file: PathBuf::from(options.required("ldap-password-file")?),
        ca_file: PathBuf::from(options.required("ca-file")?),
        base: options.required("base")?,
    })?;
    let settings: Settings = options.json("settings")?.unwrap_or_default();
    let capture_dir = options.optional("capture-dir").map(PathBuf::from);
    let helpers = HelperEnvironment::for_socket_dir(std::path::Path::new(
        &options.required("winbind-socket-dir")?,
    ))?;
    let simulator = Simulator::new(
        directory,
        PathBuf::from(options.required("smb-conf")?),
        helpers,
        certificate_der,
        capture_dir,
        settings,
    );
    if let Some(cultures) = options.json::<HashMap<String, String>>("cultures")? {
        simulator.set_cultures(&cultures);
    }
    let (ews_listener, ews_address) = options.listen("listen").await?;
    let (control_listener, control_address) = options.listen("control").await?;
    tokio::spawn(server::serve_ews(
        std::sync::Arc::clone(&simulator),
        ews_listener,
        acceptor,
    ));
    if options.optional("http-listen").is_some() {
        let (listener, _) = options.listen("http-listen").await?;
        tokio::spawn(server::serve_http(
            std::sync::Arc::clone(&simulator),
            listener,
        ));
    }
    tokio::spawn(server::serve_control(simulator, control_listener));
    program::serve_until_stdin_closes(
        &format!("https://{ews_address}/EWS/Exchange.asmx"),
        control_address,
    )
    .await;
    Ok(())
}
