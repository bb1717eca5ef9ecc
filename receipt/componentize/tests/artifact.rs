//! The built receipt signer component has exactly the allowed interface.
//!
//! Reads `$LUCID_RECEIPT_WASM`, or `receipt/target/lucid_receipt.wasm` (where the build puts it).

use std::path::PathBuf;

fn artifact() -> Vec<u8> {
    let path = std::env::var_os("LUCID_RECEIPT_WASM").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/lucid_receipt.wasm"),
        PathBuf::from,
    );
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the receipt component {}: {e}; build it first (see receipt/README.md)",
            path.display()
        )
    })
}

#[test]
fn the_built_component_imports_only_entropy_and_exports_only_the_signer() {
    let component = artifact();
    lucid_receipt_componentize::check_interface(&component).unwrap();
    let surface = lucid_receipt_componentize::surface(&component).unwrap();
    assert_eq!(
        surface.imports,
        ["lucid:receipt/host@0.1.0#entropy(len: u32) -> list<u8>"]
    );
    assert!(
        surface
            .exports
            .iter()
            .all(|e| e.starts_with("lucid:receipt/signer@0.1.0#")),
        "{:?}",
        surface.exports
    );
    assert_eq!(surface.exports.len(), 5);
}
