//! The sandbox every guest call runs in: one shared `Engine` and `Linker`, and per call a fresh
//! `Store` with a memory cap, an epoch deadline, optional fuel and captured stdout/stderr. The
//! guest gets WASI with no preopened directories, no environment, no arguments and no network.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::runtime::function_cache::{FUNCTION_CACHE_BYTES, FunctionCache};

/// How often the epoch ticker advances; deadlines are rounded up to whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Resource limits for one guest call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Wall-clock budget of one call (instantiation included).
    pub deadline: Duration,
    /// Cap on the guest's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Optional instruction budget (fuel); `None` means only the deadline applies.
    pub fuel: Option<u64>,
    /// Cap on the total size of the claims one call returns, in bytes.
    pub max_claims_bytes: usize,
    /// Cap on the captured stdout and stderr of one call, in bytes each.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(50),
            memory_bytes: 64 << 20,
            fuel: None,
            max_claims_bytes: 1 << 20,
            max_output_bytes: 64 << 10,
        }
    }
}

/// How a guest call went wrong. The names are a public contract (the `kind` of a
/// `lucid.auditor_error` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Timeout,
    Memory,
    Trap,
    Error,
    Contract,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Memory => "memory",
            ErrorKind::Trap => "trap",
            ErrorKind::Error => "error",
            ErrorKind::Contract => "contract",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest error message a guest failure keeps (messages are copied into receipts).
pub const MAX_ERROR_MESSAGE_BYTES: usize = 4096;

/// A failed guest call, with what the guest printed (its panic message, typically).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct GuestError {
    pub kind: ErrorKind,
    pub message: String,
}

impl GuestError {
    /// An error; a message over [`MAX_ERROR_MESSAGE_BYTES`] (say, a guest's own error text) is
    /// cut there, since it is copied into receipts.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_ERROR_MESSAGE_BYTES {
            let mut end = MAX_ERROR_MESSAGE_BYTES;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str("… (cut)");
        }
        GuestError { kind, message }
    }
}

/// Engine-wide settings, fixed for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Use the pooling instance allocator (for a long-running gateway).
    pub pooling: bool,
    /// Count fuel, so that `Limits::fuel` can be enforced.
    pub fuel: bool,
    /// Largest linear memory any guest may have (pooling reserves slots of this size).
    pub max_memory_bytes: usize,
    /// Number of instances the pool holds when pooling.
    pub pool_instances: u32,
}

/// Bytes of each pooled linear memory reset in place (not decommitted) when its instance is
/// dropped.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// Pooled slots decommitted together.
const DECOMMIT_BATCH: usize = 16;

/// The largest linear memory the engine gives any guest; a configured `memory_mib` above it is
/// refused rather than silently lowered.
pub const MAX_MEMORY_MIB: u64 = 256;

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            pooling: false,
            fuel: false,
            max_memory_bytes: (MAX_MEMORY_MIB as usize) << 20,
            pool_instances: 256,
        }
    }
}

impl EngineOptions {
    /// A string that changes whenever compiled code would differ; part of the compile cache key.
    pub fn fingerprint(&self) -> String {
        format!("epoch=1;fuel={}", self.fuel)
    }
}

/// Host state of one guest call.
pub struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and tables, and remembers whether the cap was hit so that an allocation
/// failure inside the guest is reported as `memory`, not as a generic trap.
struct MemoryLimiter {
    memory_bytes: usize,
    hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.memory_bytes;
        self.hit |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= 1_000_000;
        self.hit |= !ok;
        Ok(ok)
    }
}

/// The engine, the linker (WASI p2, sync) and the epoch ticker that enforces deadlines.
pub struct Sandbox {
    engine: Engine,
    functions: Arc<FunctionCache>,
    linker: Linker<GuestState>,
    options: EngineOptions,
    _ticker: EpochTicker,
}

/// The WASI version the linker serves; guests importing any 0.2.x version link against it.
const WASI_VERSION: &str = "0.2.12";

/// What a guest is told when it tries to wait.
pub const BLOCKING_REFUSED: &str = "auditors may not block: sleeping, polling and waiting on clocks are refused (an epoch deadline cannot interrupt a blocked host call)";

/// Replace the WASI calls that block the calling thread — `poll`, `pollable.block` and the
/// monotonic clock's subscriptions (which `std::thread::sleep` uses) — by functions that trap.
/// In sync mode a blocked host call is not interrupted by the epoch deadline, so a guest that
/// sleeps would hold its thread for as long as it likes; now it fails at once instead.
fn refuse_blocking(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let refuse = |interface: &'static str| {
        move |_: wasmtime::StoreContextMut<'_, GuestState>,
              _: wasmtime::component::types::ComponentFunc,
              _: &[wasmtime::component::Val],
              _: &mut [wasmtime::component::Val]| {
            Err(wasmtime::Error::msg(format!(
                "{BLOCKING_REFUSED} ({interface})"
            )))
        }
    };
    let mut poll = linker.instance(&format!("wasi:io/poll@{WASI_VERSION}"))?;
    poll.func_new("poll", refuse("wasi:io/poll.poll"))?;
    poll.func_new(
        "[method]pollable.block",
        refuse("wasi:io/poll.pollable.block"),
    )?;
    let mut clock = linker.instance(&format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"))?;
    clock.func_new(
        "subscribe-duration",
        refuse("wasi:clocks/monotonic-clock.subscribe-duration"),
    )?;
    clock.func_new(
        "subscribe-instant",
        refuse("wasi:clocks/monotonic-clock.subscribe-instant"),
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

impl Sandbox {
    pub fn new(options: EngineOptions) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(options.fuel);
        config.wasm_wide_arithmetic(true); // the receipt signer's 128-bit multiplies
        // Functions compiled once per process are not compiled again: a second Python or
        // JavaScript auditor shares its language runtime's code with the first.
        let functions = Arc::new(FunctionCache::new(FUNCTION_CACHE_BYTES));
        config.enable_incremental_compilation(functions.clone())?;
        // Deep recursion must trap cleanly rather than exhaust the host stack.
        config.max_wasm_stack(1 << 20);
        // `LUCID_WASM_PROFILER=perfmap|jitdump` names guest code in `perf` profiles (a
        // developer's switch; it changes no compiled code).
        match std::env::var("LUCID_WASM_PROFILER").as_deref() {
            Ok("perfmap") => {
                config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            Ok("jitdump") => {
                config.profiler(wasmtime::ProfilingStrategy::JitDump);
            }
            _ => {}
        }
        if options.pooling {
            let mut pool = wasmtime::PoolingAllocationConfig::default();
            pool.total_component_instances(options.pool_instances);
            pool.total_core_instances(options.pool_instances * 4);
            pool.total_memories(options.pool_instances);
            pool.total_tables(options.pool_instances * 4);
            pool.max_memory_size(options.max_memory_bytes);
            pool.max_memories_per_module(2);
            // Many small calls: when an instance is dropped, reset the pages it touched with
            // `memset` (found with PAGEMAP_SCAN where the kernel has it) instead of `madvise`,
            // so the next instance in the slot takes no page faults and no TLB shootdown, and
            // batch the decommits that remain. Every instance still starts from the module's
            // initial memory.
            pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES);
            pool.table_keep_resident(KEEP_RESIDENT_BYTES / 16);
            pool.pagemap_scan(wasmtime::Enabled::Auto);
            pool.decommit_batch_size(DECOMMIT_BATCH);
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        refuse_blocking(&mut linker)?;
        let ticker = EpochTicker::start(engine.clone())?;
        Ok(Sandbox {
            engine,
            functions,
            linker,
            options,
            _ticker: ticker,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Functions and bytes held by the compiler's in-memory function cache.
    pub fn function_cache_usage(&self) -> (usize, usize) {
        self.functions.usage()
    }

    pub fn linker(&self) -> &Linker<GuestState> {
        &self.linker
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// A fresh store for one call, with its limits applied. The returned `Output` reads what the
    /// guest printed.
    pub fn store(&self, limits: &Limits) -> (Store<GuestState>, Output) {
        let stdout = MemoryOutputPipe::new(limits.max_output_bytes);
        let stderr = MemoryOutputPipe::new(limits.max_output_bytes);
        // Nothing is inherited: no preopens, no env, no args, and no socket address is allowed.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = GuestState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                memory_bytes: limits.memory_bytes.min(self.options.max_memory_bytes),
                hit: false,
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let ticks = limits
            .deadline
            .as_micros()
            .div_ceil(EPOCH_TICK.as_micros())
            .max(1) as u64;
        // One tick more: the current tick may be almost over when the deadline is set.
        store.set_epoch_deadline(ticks + 1);
        store.epoch_deadline_trap();
        if self.options.fuel {
            // With fuel counting on, a call without a fuel budget gets an effectively unlimited one.
            let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        }
        (store, Output { stdout, stderr })
    }
}

/// What a guest printed during one call (bounded).
pub struct Output {
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Output {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents()).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

/// Turn a wasmtime error from a guest call into a `GuestError`, using the captured output for
/// the message (a Rust guest prints its panic message to stderr before it traps).
pub fn classify(
    error: &wasmtime::Error,
    store: &Store<GuestState>,
    output: &Output,
    limits: &Limits,
) -> GuestError {
    let stderr = output.stderr();
    let printed = stderr.trim();
    let with_output = |msg: String| {
        if printed.is_empty() {
            msg
        } else {
            format!("{msg}; guest stderr: {}", truncate(printed, 2048))
        }
    };
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => GuestError::new(
            ErrorKind::Timeout,
            with_output(format!(
                "exceeded its {} ms deadline",
                limits.deadline.as_millis()
            )),
        ),
        Some(Trap::OutOfFuel) => GuestError::new(
            ErrorKind::Timeout,
            with_output(format!(
                "ran out of fuel ({} units)",
                limits.fuel.unwrap_or_default()
            )),
        ),
        _ if store.data().limiter.hit => GuestError::new(
            ErrorKind::Memory,
            with_output(format!(
                "exceeded its memory limit of {} MiB",
                limits.memory_bytes >> 20
            )),
        ),
        Some(trap) => GuestError::new(ErrorKind::Trap, with_output(format!("trapped: {trap}"))),
        None if error.root_cause().to_string().starts_with(BLOCKING_REFUSED) => GuestError::new(
            ErrorKind::Trap,
            with_output(format!("tried to block: {}", error.root_cause())),
        ),
        None => GuestError::new(ErrorKind::Trap, with_output(format!("failed: {error:#}"))),
    }
}

pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Advances the engine's epoch every `EPOCH_TICK` on a thread of its own, until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("lucid-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
