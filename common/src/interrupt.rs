//! Ctrl-C and SIGTERM, the way an administrator expects them from a batch tool: the first one
//! stops new work while what is in flight finishes and is recorded, and the tool then says how
//! to resume and exits 130; a second one quits at once (what was written is still consistent:
//! each change is atomic and recorded before it is sent).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Whether the run was asked to stop, shared by everything that takes new work.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    asked: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Interrupt {
    /// Starts listening for SIGINT and SIGTERM (on the current runtime). `tool` prefixes the
    /// line printed at the first signal.
    pub fn listen(tool: &'static str) -> Self {
        let interrupt = Self::default();
        let handle = interrupt.clone();
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                wait_for_signal().await;
                count += 1;
                if count > 1 {
                    eprintln!("{tool}: interrupted again: quitting now");
                    std::process::exit(i32::from(crate::ExitStatus::Interrupted.code()));
                }
                eprintln!(
                    "{tool}: interrupted: finishing what is in flight, starting nothing new (press Ctrl-C again to quit at once)"
                );
                handle.ask();
            }
        });
        interrupt
    }

    /// Asks the run to stop (as a signal does).
    pub fn ask(&self) {
        self.asked.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether a stop was asked for.
    pub fn is_asked(&self) -> bool {
        self.asked.load(Ordering::SeqCst)
    }

    /// Resolves once a stop is asked for.
    pub async fn asked(&self) {
        let notified = self.notify.notified();
        if self.is_asked() {
            return;
        }
        notified.await;
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_wakes_the_waiters() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let interrupt = Interrupt::default();
            assert!(!interrupt.is_asked());
            let waiter = interrupt.clone();
            let task = tokio::spawn(async move { waiter.asked().await });
            tokio::task::yield_now().await;
            interrupt.ask();
            task.await.unwrap();
            assert!(interrupt.is_asked());
            // Once asked, waiting returns at once.
            interrupt.asked().await;
        });
    }
}
