//! One chat exchange, without HTTP: request-phase claims → Cedar → upstream → execution and
//! response claims → Cedar → one receipt core signed and stored → an [`Outcome`] that the HTTP
//! layer renders. The upstream is a trait, so the flow and every streaming mode run in-process
//! against a scripted model in tests.
//!
//! - [`openai`]: the only module that knows the OpenAI wire format.
//! - [`upstream`]: the model behind the gateway (mock or HTTP) as the [`Upstream`] trait.
//! - [`receipt_core`]: the AR core of an exchange (what the signer signs).
//! - [`content`]: the salted commitments to the request and response bytes.
//! - [`redact`]: masking the spans a policy asked to mask.
//! - [`metrics`]: the Prometheus metrics exchanges record.
//! - [`feed`]: every AR issued, in order, for the live feed.
//!
//! Owns: the exchange flow and the streaming modes. Must not depend on `gateway` or `cli` (no
//! axum, no HTTP types beyond the upstream client).

pub mod content;
pub mod feed;
mod flow;
mod held;
mod lifecycle;
pub mod metrics;
pub mod mock;
pub mod receipt_core;
pub mod redact;
mod stream;
pub mod upstream;

/// The OpenAI wire format: the crate `lucid-openai` (`host/openai/`), kept out of the host so the
/// fuzz targets build it without wasmtime.
pub use lucid_openai as openai;

pub use content::Content;
pub use flow::{
    Denial, ExchangeError, ExchangeService, Head, Outcome, Receipt, StreamEvent,
    observation_context, run, run_holding,
};
pub use lifecycle::Lifecycle;
pub use upstream::{ChunkStream, Upstream, UpstreamError};
