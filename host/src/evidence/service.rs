//! The receipt service: one thread owns the signer component and the evidence store's writer.
//! Exchanges hand it evidence cores; it signs them in arrival order (the chain order), writes
//! each batch of signed ARs in one durable transaction (group commit) and only then acknowledges
//! them. Nothing is acknowledged that is not on disk.
//!
//! If the signer traps, its state can no longer be trusted: the service makes a fresh instance of
//! the same component (a new key), splices it onto the last AR signed before the trap, and goes
//! on; the core that trapped is tried once more with the fresh signer. Only a signer that cannot
//! be recreated stops the service.
//!
//! If the store fails, the signer's tip has moved past ARs that are not stored: the service
//! refuses all further work (the gateway reports itself degraded) and a restart splices a new
//! chain onto the last stored AR.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;

use crate::evidence::signer::{ReceiptError, Signer};
use crate::evidence::{EvidenceStore, StoreError, StoredAr};

/// Most ARs written in one transaction.
const MAX_BATCH: usize = 512;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IssueError {
    #[error("the receipt signer refused the evidence: {0}")]
    Signer(String),
    #[error("the evidence store failed: {0}")]
    Store(String),
    #[error("the receipt service is stopped")]
    Stopped,
    #[error(
        "the receipt service is broken since an earlier failure (see the log); restart the gateway"
    )]
    Broken,
}

/// A signed, durably stored AR.
#[derive(Debug, Clone)]
pub struct Issued {
    pub ar_hash: String,
    pub chain_depth: u64,
    /// The AR's `claims_hash` and `binding_hash`, as it has them.
    pub claims_hash: Option<String>,
    pub binding_hash: Option<String>,
    /// The AR exactly as signed and stored.
    pub text: Arc<str>,
}

type Ack = Box<dyn FnOnce(Result<Issued, IssueError>) + Send>;

struct Job {
    core: String,
    ack: Ack,
}

/// How the service started: a fresh chain, or a splice onto a stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStart {
    Genesis,
    Splice {
        previous_ar_hash: String,
        previous_depth: u64,
    },
}

pub struct ReceiptService {
    tx: Mutex<Option<Sender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// The signing key now in use (a recreated signer has a new one).
    public_key: Arc<Mutex<Arc<str>>>,
    /// Signers recreated after a trap since start.
    recreated: Arc<AtomicU64>,
    receipt_sha256: String,
    start: ChainStart,
    broken: Arc<AtomicBool>,
    depth: Arc<AtomicU64>,
    issued: Arc<AtomicU64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot continue the stored chain: {0}")]
    Resume(ReceiptError),
    #[error("cannot start the receipt thread: {0}")]
    Thread(std::io::Error),
}

impl ReceiptService {
    /// Start the service. When the store holds ARs, the signer first takes over the chain from
    /// the last one (it verifies it itself).
    pub fn start(
        mut signer: Signer,
        mut store: Box<dyn EvidenceStore>,
    ) -> Result<ReceiptService, StartError> {
        let mut start = ChainStart::Genesis;
        let mut depth = 0;
        if let Some(last) = store.last()? {
            let indexed = StoredAr::from_text(last.clone())?;
            signer.resume(&last).map_err(StartError::Resume)?;
            tracing::info!(
                previous = %indexed.ar_hash,
                depth = indexed.chain_depth,
                "continuing the stored chain with a new signing key (splice)"
            );
            depth = indexed.chain_depth;
            start = ChainStart::Splice {
                previous_ar_hash: indexed.ar_hash,
                previous_depth: indexed.chain_depth,
            };
        }
        let (tx, rx) = channel::<Job>();
        let broken = Arc::new(AtomicBool::new(false));
        let depth = Arc::new(AtomicU64::new(depth));
        let issued = Arc::new(AtomicU64::new(0));
        let public_key = Arc::new(Mutex::new(Arc::from(signer.public_key())));
        let recreated = Arc::new(AtomicU64::new(0));
        let receipt_sha256 = signer.receipt_sha256().to_string();
        let worker = {
            let mut worker = Worker {
                signer,
                store,
                broken: broken.clone(),
                depth: depth.clone(),
                issued: issued.clone(),
                public_key: public_key.clone(),
                recreated: recreated.clone(),
            };
            std::thread::Builder::new()
                .name("lucid-receipts".into())
                .spawn(move || worker.run(rx))
                .map_err(StartError::Thread)?
        };
        Ok(ReceiptService {
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
            public_key,
            recreated,
            receipt_sha256,
            start,
            broken,
            depth,
            issued,
        })
    }

    /// The key signing now (it changes when a trapped signer is recreated).
    pub fn public_key(&self) -> Arc<str> {
        self.public_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Signers recreated (each with a new key, spliced) after a trap since start.
    pub fn recreated(&self) -> u64 {
        self.recreated.load(Ordering::Relaxed)
    }

    pub fn receipt_sha256(&self) -> &str {
        &self.receipt_sha256
    }

    pub fn chain_start(&self) -> &ChainStart {
        &self.start
    }

    /// Depth of the newest stored AR of this chain (0 before any).
    pub fn chain_depth(&self) -> u64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// ARs issued since start.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    fn submit(&self, core: String, ack: Ack) {
        if self.is_broken() {
            return ack(Err(IssueError::Broken));
        }
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(tx) => {
                if let Err(e) = tx.send(Job { core, ack }) {
                    (e.0.ack)(Err(IssueError::Stopped));
                }
            }
            None => ack(Err(IssueError::Stopped)),
        }
    }

    /// Sign and durably store one core; resolves once the AR is on disk.
    pub async fn issue(&self, core: &Value) -> Result<Issued, IssueError> {
        self.issue_text(core.to_string()).await
    }

    /// Like `issue`, for a core already serialized.
    pub async fn issue_text(&self, core: String) -> Result<Issued, IssueError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(
            core,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.await.unwrap_or(Err(IssueError::Stopped))
    }

    /// Like `issue`, for threads that may block.
    pub fn issue_blocking(&self, core: &Value) -> Result<Issued, IssueError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(
            core.to_string(),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap_or(Err(IssueError::Stopped))
    }

    /// Stop accepting work, finish (sign and store) everything queued, and wait for the thread.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(worker) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = worker.join();
        }
    }
}

impl Drop for ReceiptService {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The receipt thread's state.
struct Worker {
    signer: Signer,
    store: Box<dyn EvidenceStore>,
    broken: Arc<AtomicBool>,
    depth: Arc<AtomicU64>,
    issued: Arc<AtomicU64>,
    public_key: Arc<Mutex<Arc<str>>>,
    recreated: Arc<AtomicU64>,
}

impl Worker {
    fn run(&mut self, rx: Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.batch(jobs);
        }
    }

    /// Sign a batch in order, store it in one transaction, then acknowledge it.
    fn batch(&mut self, jobs: Vec<Job>) {
        if self.broken.load(Ordering::Relaxed) {
            for job in jobs {
                (job.ack)(Err(IssueError::Broken));
            }
            return;
        }
        let mut signed: Vec<StoredAr> = Vec::with_capacity(jobs.len());
        let mut waiting: Vec<Ack> = Vec::with_capacity(jobs.len());
        for job in jobs {
            match self.sign(&job.core, signed.last()) {
                Ok(ar) => {
                    signed.push(ar);
                    waiting.push(job.ack);
                }
                Err(e) => {
                    tracing::error!("receipt signing failed: {e}");
                    (job.ack)(Err(e));
                }
            }
        }
        if signed.is_empty() {
            return;
        }
        match self.store.append(&signed) {
            Ok(()) => {
                if let Some(last) = signed.last() {
                    self.depth.store(last.chain_depth, Ordering::Relaxed);
                }
                self.issued
                    .fetch_add(signed.len() as u64, Ordering::Relaxed);
                for (ar, ack) in signed.into_iter().zip(waiting) {
                    ack(Ok(Issued {
                        ar_hash: ar.ar_hash,
                        chain_depth: ar.chain_depth,
                        claims_hash: ar.claims_hash,
                        binding_hash: ar.binding_hash,
                        text: ar.text.into(),
                    }));
                }
            }
            Err(e) => {
                self.broken.store(true, Ordering::Relaxed);
                tracing::error!(
                    "evidence store failed, refusing further exchanges until restart: {e}"
                );
                for ack in waiting {
                    ack(Err(IssueError::Store(e.to_string())));
                }
            }
        }
    }

    /// Sign one core. `pending` is the newest AR of this batch (signed, not stored yet). A trap
    /// recreates the signer and tries the core once more.
    fn sign(&mut self, core: &str, pending: Option<&StoredAr>) -> Result<StoredAr, IssueError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.signer.sign(core) {
                Ok(text) => {
                    return StoredAr::from_text(text)
                        .map_err(|e| IssueError::Signer(e.to_string()));
                }
                Err(e @ ReceiptError::Refused(_)) => return Err(IssueError::Signer(e.to_string())),
                Err(e) => {
                    tracing::error!("the receipt signer trapped: {e}");
                    self.recreate(pending)?;
                    if attempt >= 2 {
                        return Err(IssueError::Signer(e.to_string()));
                    }
                }
            }
        }
    }

    /// Replace a trapped signer by a fresh instance spliced onto the last AR signed before the
    /// trap (this batch's newest, else the store's). If that fails nothing can be receipted.
    fn recreate(&mut self, pending: Option<&StoredAr>) -> Result<(), IssueError> {
        let result = (|| {
            let previous = match pending {
                Some(ar) => Some(ar.text.clone()),
                None => self.store.last().map_err(|e| e.to_string())?,
            };
            let mut fresh = self.signer.fresh().map_err(|e| e.to_string())?;
            if let Some(previous) = &previous {
                fresh.resume(previous).map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(fresh)
        })();
        match result {
            Ok(fresh) => {
                tracing::warn!(
                    old = %self.signer.public_key(),
                    new = %fresh.public_key(),
                    "receipt signer recreated with a new key, spliced onto the chain"
                );
                *self.public_key.lock().unwrap_or_else(|p| p.into_inner()) =
                    Arc::from(fresh.public_key());
                self.signer = fresh;
                self.recreated.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.broken.store(true, Ordering::Relaxed);
                tracing::error!(
                    "the receipt signer cannot be recreated, refusing further exchanges: {e}"
                );
                Err(IssueError::Signer(format!(
                    "the receipt signer trapped and cannot be recreated: {e}"
                )))
            }
        }
    }
}
