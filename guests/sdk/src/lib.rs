//! The SDK for Lucid auditor plugins.
//!
//! An auditor is a WebAssembly component implementing the `lucid:auditor@0.2.0` contract
//! (`wit/auditor/auditor.wit`). With this crate an auditor is a type implementing [`Auditor`]
//! plus one [`export_auditor!`] call; the component-model bindings are generated here, once, and
//! auditor crates never see them.
//!
//! The contract's own types ([`Phase`], [`ClaimType`], [`Claim`], [`ClaimValue`], [`Scope`],
//! [`SettingType`], [`SettingValue`]) are those of `lucid-contract`, re-exported: the host, the
//! policy engine and the receipts use the very same definitions.
//!
//! ```
//! use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};
//!
//! pub struct Shouting;
//!
//! impl Auditor for Shouting {
//!     fn describe() -> Vocabulary {
//!         Vocabulary::new("shouting", "0.1.0", "flags prompts written in capitals")
//!             .phases([Phase::Request])
//!             .claim(ClaimSpec::new("shouting", ClaimType::Boolean, "a message is all capitals"))
//!     }
//!
//!     fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
//!         let shouting = input.texts().iter().any(|text| {
//!             text.chars().any(char::is_alphabetic) && !text.chars().any(char::is_lowercase)
//!         });
//!         Ok(vec![Claim::boolean("shouting", shouting)])
//!     }
//! }
//!
//! lucid_auditor_sdk::export_auditor!(Shouting);
//! ```

mod adapter;
mod error;
mod input;
pub mod text;
pub mod tokens;
mod vocabulary;

pub use error::Error;
pub use input::{Input, Message, Role, Settings, ToolCall, ToolCallOrigin, content_text};
pub use lucid_contract::{
    Claim, ClaimType, ClaimValue, DomainError, MAX_SAFE_INTEGER, MAX_SPANS_PER_CLAIM, Phase, Scope,
    SettingError, SettingType, SettingValue, Span, UnknownName,
};
pub use vocabulary::{ClaimSpec, SettingSpec, Vocabulary};

/// Re-exported so auditors can build claim objects and metadata with `serde_json::json!`
/// without a dependency of their own.
pub use serde_json;

/// An auditor plugin. Each call runs in a fresh instance, so there is no `self`: an auditor must
/// not rely on state kept between calls.
pub trait Auditor {
    /// The auditor's vocabulary. Must be deterministic: the host reads it once per load.
    fn describe() -> Vocabulary;

    /// Observes one phase of one exchange. Return [`Error::InvalidInput`] for input that cannot
    /// be understood and [`Error::Failed`] for anything else.
    fn observe(input: &Input) -> Result<Vec<Claim>, Error>;
}

/// Exports an [`Auditor`] as the component's `lucid:auditor/auditor@0.2.0` implementation.
/// Call it once, at the crate root of a `cdylib` crate.
///
/// Outside wasm it only checks that the type implements [`Auditor`], so the crate still builds
/// natively for `cargo test`.
#[macro_export]
macro_rules! export_auditor {
    ($auditor:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type LucidAuditorAdapter = $crate::__private::Adapter<$auditor>;
            $crate::bindings::export! { LucidAuditorAdapter with_types_in $crate::bindings }
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            const fn assert_auditor<T: $crate::Auditor>() {}
            assert_auditor::<$auditor>();
        };
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::adapter::Adapter;
}

/// The generated component-model bindings. Not public API: their shape follows `wit-bindgen`.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/auditor",
        world: "lucid:auditor/auditor-plugin",
        pub_export_macro: true,
        default_bindings_module: "lucid_auditor_sdk::bindings",
    });
}
