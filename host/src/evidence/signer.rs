//! The receipt signer: a WebAssembly component (`lucid:receipt@0.1.0`) that owns the Ed25519 key
//! and the chain tip. The host only hands it evidence cores and gets complete ARs back; the key
//! is generated inside from the one import it has (entropy) and no export returns it.
//!
//! One instance lives as long as the host process. It is used from one thread at a time (the
//! receipt service's thread), so signing is serialized in chain order.

use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};

use crate::runtime::plugin::{WasmKind, sha256_hex, wasm_kind};
use crate::runtime::sandbox::EPOCH_TICK;
use bindings::ReceiptSigner;
use bindings::exports::lucid::receipt::signer::ChainTip;

/// Bindings of the receipt signer's world (`lucid:receipt@0.1.0`).
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/receipt",
        world: "receipt-signer",
    });

    pub const RECEIPT_INTERFACE: &str = "lucid:receipt/signer@0.1.0";
}

/// Budget of one call into the signer (signing takes well under a millisecond).
const CALL_DEADLINE: Duration = Duration::from_secs(5);

/// The signer's memory: ample for the largest core it accepts (`lucid_ar::MAX_CORE_BYTES`).
pub const SIGNER_MEMORY_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("cannot read the receipt component {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the receipt component is not a WebAssembly component")]
    NotComponent,
    #[error("the receipt component cannot be loaded: {0}")]
    Load(String),
    #[error("the receipt signer failed: {0}")]
    Trap(String),
    #[error("the receipt signer refused: {0}")]
    Refused(String),
}

struct SignerState {
    limits: StoreLimits,
}

impl bindings::lucid::receipt::host::Host for SignerState {
    fn entropy(&mut self, len: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; len.min(1024) as usize];
        // The OS RNG failing is not recoverable; an all-zero seed must never be used.
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        bytes
    }
}

/// A loaded, initialised signer.
pub struct Signer {
    store: Store<SignerState>,
    bindings: ReceiptSigner,
    public_key: String,
    receipt_sha256: String,
    /// What a fresh instance is made from ([`Signer::fresh`]).
    component: Component,
    linker: Linker<SignerState>,
    memory_bytes: usize,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public_key", &self.public_key)
            .field("receipt_sha256", &self.receipt_sha256)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Compile and instantiate the component from its bytes, and let it generate its key.
    /// `engine` must have epoch interruption on (the sandbox's engine does).
    pub fn load(engine: &Engine, bytes: &[u8]) -> Result<Signer, ReceiptError> {
        Self::load_with_memory(engine, bytes, SIGNER_MEMORY_BYTES)
    }

    /// Like [`Signer::load`], with `memory_bytes` of memory instead of the default.
    pub fn load_with_memory(
        engine: &Engine,
        bytes: &[u8],
        memory_bytes: usize,
    ) -> Result<Signer, ReceiptError> {
        if wasm_kind(bytes) != WasmKind::Component {
            return Err(ReceiptError::NotComponent);
        }
        let receipt_sha256 = sha256_hex(bytes);
        let component =
            Component::new(engine, bytes).map_err(|e| ReceiptError::Load(format!("{e:#}")))?;
        let mut linker: Linker<SignerState> = Linker::new(engine);
        ReceiptSigner::add_to_linker::<SignerState, wasmtime::component::HasSelf<SignerState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| ReceiptError::Load(format!("{e:#}")))?;
        Self::instantiate(engine, component, linker, receipt_sha256, memory_bytes)
    }

    /// A new instance of the same component, with a new key and a fresh chain tip: what replaces
    /// a signer that trapped (whose state can no longer be trusted).
    pub fn fresh(&self) -> Result<Signer, ReceiptError> {
        Self::instantiate(
            self.store.engine(),
            self.component.clone(),
            self.linker.clone(),
            self.receipt_sha256.clone(),
            self.memory_bytes,
        )
    }

    fn instantiate(
        engine: &Engine,
        component: Component,
        linker: Linker<SignerState>,
        receipt_sha256: String,
        memory_bytes: usize,
    ) -> Result<Signer, ReceiptError> {
        let mut store = Store::new(
            engine,
            SignerState {
                limits: StoreLimitsBuilder::new()
                    .memory_size(memory_bytes)
                    .instances(4)
                    .build(),
            },
        );
        store.limiter(|s| &mut s.limits);
        // Fuel only exists when the engine counts it; the signer is trusted to terminate.
        let _ = store.set_fuel(u64::MAX);
        arm(&mut store);
        let bindings = ReceiptSigner::instantiate(&mut store, &component, &linker)
            .map_err(|e| ReceiptError::Load(format!("{e:#}")))?;
        let signer_api = bindings.lucid_receipt_signer();
        signer_api
            .call_init(&mut store, &receipt_sha256)
            .map_err(|e| ReceiptError::Trap(format!("{e:#}")))?
            .map_err(ReceiptError::Refused)?;
        arm(&mut store);
        let public_key = signer_api
            .call_public_key(&mut store)
            .map_err(|e| ReceiptError::Trap(format!("{e:#}")))?
            .map_err(ReceiptError::Refused)?;
        Ok(Signer {
            store,
            bindings,
            public_key,
            receipt_sha256,
            component,
            linker,
            memory_bytes,
        })
    }

    pub fn load_file(engine: &Engine, path: &std::path::Path) -> Result<Signer, ReceiptError> {
        let bytes = std::fs::read(path).map_err(|source| ReceiptError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::load(engine, &bytes)
    }

    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// SHA-256 of the component bytes the host loaded (what every AR's `signer.receipt_sha256`
    /// says).
    pub fn receipt_sha256(&self) -> &str {
        &self.receipt_sha256
    }

    /// Continue the chain whose last stored AR is `previous_ar` (a splice). The component
    /// verifies it before accepting.
    pub fn resume(&mut self, previous_ar: &str) -> Result<(), ReceiptError> {
        arm(&mut self.store);
        self.bindings
            .lucid_receipt_signer()
            .call_resume(&mut self.store, previous_ar)
            .map_err(|e| ReceiptError::Trap(format!("{e:#}")))?
            .map_err(ReceiptError::Refused)
    }

    pub fn tip(&mut self) -> Result<ChainTip, ReceiptError> {
        arm(&mut self.store);
        self.bindings
            .lucid_receipt_signer()
            .call_tip(&mut self.store)
            .map_err(|e| ReceiptError::Trap(format!("{e:#}")))
    }

    /// Sign one evidence core (a JSON object without the signer's fields); returns the AR text.
    pub fn sign(&mut self, core: &str) -> Result<String, ReceiptError> {
        arm(&mut self.store);
        self.bindings
            .lucid_receipt_signer()
            .call_sign(&mut self.store, core)
            .map_err(|e| ReceiptError::Trap(format!("{e:#}")))?
            .map_err(ReceiptError::Refused)
    }
}

/// Give the next call its deadline (the engine's epoch keeps ticking between calls).
fn arm(store: &mut Store<SignerState>) {
    let ticks = CALL_DEADLINE.as_micros() / EPOCH_TICK.as_micros();
    store.set_epoch_deadline(ticks as u64);
    store.epoch_deadline_trap();
}
