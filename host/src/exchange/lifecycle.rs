//! The life of the exchanges in flight as the gateway stops: every exchange runs as a tracked
//! task, so shutdown can wait for all of them — including those whose client went away — and,
//! past the grace period, cut them off. A cut-off exchange stops waiting for the upstream and
//! for its client, and is receipted with what it has (`upstream_error` says why it ended).

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The exchanges in flight, and the signal that cuts them off.
#[derive(Debug, Default)]
pub struct Lifecycle {
    cutoff: CancellationToken,
    tasks: TaskTracker,
}

impl Lifecycle {
    /// Run the work of an exchange as a tracked task.
    pub fn spawn<F>(&self, work: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(work)
    }

    /// Exchanges (and forwarded streams) still running.
    pub fn in_flight(&self) -> usize {
        self.tasks.len()
    }

    /// Tell every exchange in flight to finish now with what it has.
    pub fn cut_off(&self) {
        self.cutoff.cancel();
    }

    pub fn is_cut_off(&self) -> bool {
        self.cutoff.is_cancelled()
    }

    /// Resolves once [`Lifecycle::cut_off`] was called.
    pub async fn cancelled(&self) {
        self.cutoff.cancelled().await
    }

    /// Resolves when no exchange is running any more (new ones may still start until the
    /// listener is closed; call this after it is).
    pub async fn finished(&self) {
        self.tasks.close();
        self.tasks.wait().await;
        self.tasks.reopen();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn finished_waits_for_every_task_and_cut_off_reaches_them() {
        let life = Arc::new(Lifecycle::default());
        let inner = life.clone();
        let task = life.spawn(async move {
            inner.cancelled().await;
            "cut"
        });
        assert_eq!(life.in_flight(), 1);
        let waiting = tokio::time::timeout(Duration::from_millis(50), life.finished()).await;
        assert!(waiting.is_err(), "a running task keeps it from finishing");
        life.cut_off();
        assert!(life.is_cut_off());
        tokio::time::timeout(Duration::from_secs(10), life.finished())
            .await
            .expect("finished once the task ended");
        assert_eq!(task.await.unwrap(), "cut");
        assert_eq!(life.in_flight(), 0);
    }
}
