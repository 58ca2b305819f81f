//! What a simulator program (`fake-ews`, `fake-graph`) does around its own work: `--name VALUE`
//! options, a two-thread runtime, its TLS identity, its listeners, plain-HTTP serving, a failure
//! as one line, and serving until whoever started it closes its stdin.

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::ExitCode;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A program's `--name VALUE` options.
#[derive(Debug, Default)]
pub struct Options(HashMap<String, String>);

impl Options {
    fn parse(name: &str, args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(key) = arg.strip_prefix("--") else {
                return Err(format!("{name}: unexpected argument {arg}"));
            };
            let Some(value) = args.next() else {
                return Err(format!("{name}: {arg} needs a value"));
            };
            options.insert(key.to_owned(), value);
        }
        Ok(Self(options))
    }

    /// An option that must be given.
    pub fn required(&self, name: &str) -> Result<String, String> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// An option that may be given.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An option holding JSON, if given.
    pub fn json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, String> {
        self.optional(name)
            .map(|json| serde_json::from_str(json).map_err(|e| format!("--{name}: {e}")))
            .transpose()
    }

    /// The TLS acceptor of `--cert PEM` and `--key PEM`, and the certificate's DER.
    pub fn tls(&self) -> Result<(tokio_native_tls::TlsAcceptor, Vec<u8>), String> {
        let cert_pem = std::fs::read(self.required("cert")?)
            .map_err(|e| format!("cannot read --cert: {e}"))?;
        let key_pem =
            std::fs::read(self.required("key")?).map_err(|e| format!("cannot read --key: {e}"))?;
        let der = openssl::x509::X509::from_pem(&cert_pem)
            .and_then(|c| c.to_der())
            .map_err(|e| format!("--cert: {e}"))?;
        let identity = native_tls::Identity::from_pkcs8(&cert_pem, &key_pem)
            .map_err(|e| format!("the certificate or key is unusable: {e}"))?;
        let acceptor = native_tls::TlsAcceptor::new(identity).map_err(|e| e.to_string())?;
        Ok((tokio_native_tls::TlsAcceptor::from(acceptor), der))
    }

    /// A listener on the address option `name` (any port of 127.0.0.1 when not given), and
    /// the address it got.
    pub async fn listen(&self, name: &str) -> Result<(TcpListener, std::net::SocketAddr), String> {
        let at = self.optional(name).unwrap_or("127.0.0.1:0");
        let listener = TcpListener::bind(at)
            .await
            .map_err(|e| format!("cannot listen on {at}: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        Ok((listener, address))
    }
}

/// Runs a simulator program: its options from the command line, `run` on a two-thread
/// runtime, a failure as one line (exit 2 for the command line, 1 otherwise).
pub fn main<Fut>(name: &str, run: impl FnOnce(Options) -> Fut) -> ExitCode
where
    Fut: Future<Output = Result<(), String>>,
{
    let options = match Options::parse(name, std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves plain HTTP/1.1 on `listener` until the process ends, each request answered by
/// `answer` (a control API, Autodiscover's redirect site).
pub async fn serve_plain<F, Fut>(listener: TcpListener, answer: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let answer = answer.clone();
                async move { Ok::<_, Infallible>(answer(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// Says the program is ready (`listening URL control http://ADDR`, which the lab waits for)
/// and serves until whoever started it closes its stdin (or goes away).
pub async fn serve_until_stdin_closes(url: &str, control: std::net::SocketAddr) {
    println!("listening {url} control http://{control}");
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while stdin.read(&mut buf).await.is_ok_and(|n| n > 0) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_in_pairs() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let options =
            Options::parse("x", args(&["--cert", "a.pem", "--listen", "127.0.0.1:1"])).unwrap();
        assert_eq!(options.required("cert").unwrap(), "a.pem");
        assert_eq!(options.optional("listen"), Some("127.0.0.1:1"));
        assert!(
            options
                .required("key")
                .unwrap_err()
                .contains("--key is required")
        );
        assert!(
            Options::parse("x", args(&["--cert"]))
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            Options::parse("x", args(&["cert"]))
                .unwrap_err()
                .contains("unexpected argument")
        );
    }
}
