//! Runs the real receipt signer component in wasmtime, the way the host does, for the
//! end-to-end tests and the timing example. Test support only: traps panic.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store};

wasmtime::component::bindgen!({
    path: "../../wit/receipt",
    world: "receipt-signer",
});

pub use exports::lucid::receipt::signer::ChainTip;

/// A core (the host's part of an AR) as the tests use it: about 2.3 KB, three phases, nine
/// claims of every type, floats, non-ASCII text. `i` varies the request and a few values.
pub fn sample_core(i: u64) -> serde_json::Value {
    let mut core: serde_json::Value =
        serde_json::from_str(include_str!("../../format/tests/data/core.json"))
            .expect("the sample core is json");
    core["request_id"] = format!("req-{i:06}").into();
    core["timestamp"] = format!(
        "2026-01-02T03:{:02}:{:02}.{:03}Z",
        i / 60 % 60,
        i % 60,
        i % 1000
    )
    .into();
    core["phases"][0]["claims"][0]["value"] = ((i % 100) as f64 / 100.0).into();
    core["phases"][1]["claims"][1]["value"] = (i * 7).into();
    core
}

/// The core of an AR the running gateway signed (3.4 KB compact, two phases, ten claims):
/// what the signer sees per exchange. `i` varies the request id and the timestamp.
pub fn gateway_core(i: u64) -> serde_json::Value {
    let mut core: serde_json::Value =
        serde_json::from_str(include_str!("../../format/tests/data/gateway_core.json"))
            .expect("the gateway core is json");
    core["request_id"] = format!("req_{i:024x}").into();
    core["timestamp"] = format!(
        "2026-11-30T18:{:02}:{:02}.{:06}Z",
        i / 60 % 60,
        i % 60,
        i % 1_000_000
    )
    .into();
    core
}

/// The engine settings of the host's `Sandbox` that matter to the signer's code: the component
/// model, epoch interruption, a 1 MiB wasm stack, the wide-arithmetic proposal.
pub fn host_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(1 << 20);
    // The signer is built with `+wide-arithmetic` (128-bit multiplies for curve25519).
    config.wasm_wide_arithmetic(true);
    // As in the host: `LUCID_WASM_PROFILER=perfmap` names the guest's functions for `perf`.
    if std::env::var("LUCID_WASM_PROFILER").as_deref() == Ok("perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Where the built component is: `$LUCID_RECEIPT_WASM`, or `target/release/lucid_receipt.wasm`
/// (where `cargo xtask build` puts it, next to the `lucid` binary).
pub fn artifact_path() -> PathBuf {
    std::env::var_os("LUCID_RECEIPT_WASM").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/release/lucid_receipt.wasm")
        },
        PathBuf::from,
    )
}

/// The compiled component, ready to instantiate many times.
pub struct Runtime {
    engine: Engine,
    component: Component,
    linker: Linker<HostState>,
    /// SHA-256 of the component bytes, lowercase hex.
    pub receipt_sha256: String,
}

/// What the component's one import answers.
pub struct HostState {
    entropy: Vec<u8>,
    /// Every length the component asked for.
    pub entropy_calls: Vec<u32>,
}

impl lucid::receipt::host::Host for HostState {
    fn entropy(&mut self, len: u32) -> Vec<u8> {
        self.entropy_calls.push(len);
        self.entropy
            .iter()
            .copied()
            .cycle()
            .take(len as usize)
            .collect()
    }
}

impl Runtime {
    /// Loads the built artifact; panics with a hint when it is missing.
    pub fn load() -> Runtime {
        let path = artifact_path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the receipt component {}: {e}; build it first (see receipt/README.md)",
                path.display()
            )
        });
        Runtime::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Runtime {
        let engine = Engine::new(&host_config()).expect("engine");
        let component = Component::new(&engine, bytes).expect("the receipt component compiles");
        let mut linker = Linker::new(&engine);
        ReceiptSigner::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .expect("the host import links");
        Runtime {
            engine,
            component,
            linker,
            receipt_sha256: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// A fresh instance (a restarted host) whose entropy import returns `entropy`, repeated.
    pub fn instantiate(&self, entropy: &[u8]) -> Signer {
        let mut store = Store::new(
            &self.engine,
            HostState {
                entropy: entropy.to_vec(),
                entropy_calls: Vec::new(),
            },
        );
        // Epoch interruption is on, as in the host; nothing here advances the epoch.
        store.set_epoch_deadline(1 << 40);
        let bindings = ReceiptSigner::instantiate(&mut store, &self.component, &self.linker)
            .expect("the receipt component instantiates");
        Signer { store, bindings }
    }
}

/// One instance of the component.
pub struct Signer {
    store: Store<HostState>,
    bindings: ReceiptSigner,
}

impl Signer {
    pub fn init(&mut self, receipt_sha256: &str) -> Result<(), String> {
        self.bindings
            .lucid_receipt_signer()
            .call_init(&mut self.store, receipt_sha256)
            .expect("init traps")
    }

    pub fn public_key(&mut self) -> Result<String, String> {
        self.bindings
            .lucid_receipt_signer()
            .call_public_key(&mut self.store)
            .expect("public-key traps")
    }

    pub fn resume(&mut self, previous_ar: &str) -> Result<(), String> {
        self.bindings
            .lucid_receipt_signer()
            .call_resume(&mut self.store, previous_ar)
            .expect("resume traps")
    }

    pub fn tip(&mut self) -> ChainTip {
        self.bindings
            .lucid_receipt_signer()
            .call_tip(&mut self.store)
            .expect("tip traps")
    }

    pub fn sign(&mut self, core: &str) -> Result<String, String> {
        self.bindings
            .lucid_receipt_signer()
            .call_sign(&mut self.store, core)
            .expect("sign traps")
    }

    pub fn host(&self) -> &HostState {
        self.store.data()
    }
}
