//! The one place that runs `bindgen!` for the auditor world. The rest of the host uses the
//! generated types through this module, and converts them into its own domain types at the edge.

wasmtime::component::bindgen!({
    path: "../wit/auditor",
    world: "auditor-plugin",
});

/// Types of the `lucid:auditor/types` interface, as generated.
pub use self::lucid::auditor::types as wit;

/// The WIT package version this host implements; components exporting a semver-compatible
/// version (`0.1.x`) are accepted.
pub const AUDITOR_PACKAGE: &str = "lucid:auditor";
pub const AUDITOR_VERSION: &str = "0.1.0";
/// The fully qualified name of the interface an auditor must export.
pub const AUDITOR_INTERFACE: &str = "lucid:auditor/auditor@0.1.0";

/// Bindings of the receipt signer's world (`lucid:receipt@0.1.0`).
pub mod receipt {
    wasmtime::component::bindgen!({
        path: "../wit/receipt",
        world: "receipt-signer",
    });

    pub const RECEIPT_INTERFACE: &str = "lucid:receipt/signer@0.1.0";
}
