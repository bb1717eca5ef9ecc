//! Turns the receipt signer's core module (`wasm32-unknown-unknown`) into a component, and checks
//! that a component has exactly the receipt signer's interface: one import (`host.entropy`) and
//! the `signer` exports, none of which can hand out the key.
//!
//! The check runs on every build ([`componentize`] refuses to produce a component that fails it)
//! and in the tests on the built artifact, so a dependency that sneaks in an import (a clock, a
//! random source, WASI) or an export that grows a new function breaks the build.

use wit_component::{ComponentEncoder, DecodedWasm};
use wit_parser::{Resolve, Type, TypeDefKind, WorldItem, WorldKey};

/// The only interface the signer may import.
pub const HOST_INTERFACE: &str = "lucid:receipt/host@0.1.0";
/// The only interface the signer may export.
pub const SIGNER_INTERFACE: &str = "lucid:receipt/signer@0.1.0";

/// Every function the component imports, as `interface#signature`. Exactly these.
pub const ALLOWED_IMPORTS: &[&str] = &["lucid:receipt/host@0.1.0#entropy(len: u32) -> list<u8>"];

/// Every function the component exports, as `interface#signature`. Exactly these: none returns
/// more than a public key, a chain tip, an AR or an error message. Adding a function to the
/// signer means reviewing it here.
pub const ALLOWED_EXPORTS: &[&str] = &[
    "lucid:receipt/signer@0.1.0#init(receipt-sha256: string) -> result<_, string>",
    "lucid:receipt/signer@0.1.0#public-key() -> result<string, string>",
    "lucid:receipt/signer@0.1.0#resume(previous-ar: string) -> result<_, string>",
    "lucid:receipt/signer@0.1.0#tip() -> chain-tip{next-depth: u64, previous-ar-hash: option<string>}",
    "lucid:receipt/signer@0.1.0#sign(core: string) -> result<string, string>",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot encode the core module as a component: {0}")]
    Encode(String),
    #[error("cannot decode the component: {0}")]
    Decode(String),
    #[error("not a component (a core module or a wit package)")]
    NotAComponent,
    #[error("the component imports {0}, which the receipt signer must not import")]
    UnexpectedImport(String),
    #[error("the component exports {0}, which is not on the receipt signer's allowlist")]
    UnexpectedExport(String),
    #[error("the component does not export {0}")]
    MissingExport(String),
    #[error("the component does not import {0}")]
    MissingImport(String),
}

/// Encodes `module` (a core module carrying the `receipt-signer` world in its custom section, as
/// `wit-bindgen` leaves it) as a validated component, then [`check_interface`]s it.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, Error> {
    let component = ComponentEncoder::default()
        .module(module)
        .map_err(|e| Error::Encode(format!("{e:#}")))?
        .validate(true)
        .encode()
        .map_err(|e| Error::Encode(format!("{e:#}")))?;
    check_interface(&component)?;
    Ok(component)
}

/// The imported and exported functions of a component, as `interface#signature`, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surface {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Reads the imports and exports of a component.
pub fn surface(component: &[u8]) -> Result<Surface, Error> {
    let decoded = wit_component::decode(component).map_err(|e| Error::Decode(format!("{e:#}")))?;
    let DecodedWasm::Component(resolve, world) = decoded else {
        return Err(Error::NotAComponent);
    };
    let world = &resolve.worlds[world];
    let list = |items: &wit_parser::IndexMap<WorldKey, WorldItem>| {
        let mut out: Vec<String> = items
            .iter()
            .flat_map(|(key, item)| describe(&resolve, key, item))
            .collect();
        out.sort();
        out
    };
    Ok(Surface {
        imports: list(&world.imports),
        exports: list(&world.exports),
    })
}

/// Fails unless the component imports exactly [`ALLOWED_IMPORTS`] and exports exactly
/// [`ALLOWED_EXPORTS`].
pub fn check_interface(component: &[u8]) -> Result<(), Error> {
    let surface = surface(component)?;
    let allowed = |list: &[&str], item: &String| list.contains(&item.as_str());
    if let Some(extra) = surface
        .imports
        .iter()
        .find(|i| !allowed(ALLOWED_IMPORTS, i))
    {
        return Err(Error::UnexpectedImport(extra.clone()));
    }
    if let Some(extra) = surface
        .exports
        .iter()
        .find(|e| !allowed(ALLOWED_EXPORTS, e))
    {
        return Err(Error::UnexpectedExport(extra.clone()));
    }
    if let Some(missing) = ALLOWED_IMPORTS
        .iter()
        .find(|i| !surface.imports.iter().any(|s| s == *i))
    {
        return Err(Error::MissingImport((*missing).to_owned()));
    }
    if let Some(missing) = ALLOWED_EXPORTS
        .iter()
        .find(|e| !surface.exports.iter().any(|s| s == *e))
    {
        return Err(Error::MissingExport((*missing).to_owned()));
    }
    Ok(())
}

/// One line per function of a world item; a bare type or an empty interface still gets a line,
/// so it cannot slip through an allowlist of functions.
fn describe(resolve: &Resolve, key: &WorldKey, item: &WorldItem) -> Vec<String> {
    let name = resolve.name_world_key(key);
    match item {
        WorldItem::Interface { id, .. } => {
            let functions = &resolve.interfaces[*id].functions;
            if functions.is_empty() {
                return vec![format!("{name}#")];
            }
            functions
                .values()
                .map(|f| format!("{name}#{}", signature(resolve, f)))
                .collect()
        }
        WorldItem::Function(f) => vec![format!("{name}#{}", signature(resolve, f))],
        WorldItem::Type { .. } => vec![format!("{name}#type")],
    }
}

fn signature(resolve: &Resolve, f: &wit_parser::Function) -> String {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, render(resolve, &p.ty)))
        .collect();
    let result = match &f.result {
        Some(ty) => format!(" -> {}", render(resolve, ty)),
        None => String::new(),
    };
    format!("{}({}){result}", f.name, params.join(", "))
}

/// A type in WIT syntax, with records spelled out field by field so a new field shows.
fn render(resolve: &Resolve, ty: &Type) -> String {
    let id = match ty {
        Type::Bool => return "bool".into(),
        Type::U8 => return "u8".into(),
        Type::U16 => return "u16".into(),
        Type::U32 => return "u32".into(),
        Type::U64 => return "u64".into(),
        Type::S8 => return "s8".into(),
        Type::S16 => return "s16".into(),
        Type::S32 => return "s32".into(),
        Type::S64 => return "s64".into(),
        Type::F32 => return "f32".into(),
        Type::F64 => return "f64".into(),
        Type::Char => return "char".into(),
        Type::String => return "string".into(),
        Type::ErrorContext => return "error-context".into(),
        Type::Id(id) => *id,
    };
    let def = &resolve.types[id];
    let or_blank = |t: &Option<Type>| t.as_ref().map_or("_".into(), |t| render(resolve, t));
    match &def.kind {
        TypeDefKind::Type(t) => render(resolve, t),
        TypeDefKind::List(t) => format!("list<{}>", render(resolve, t)),
        TypeDefKind::Option(t) => format!("option<{}>", render(resolve, t)),
        TypeDefKind::Result(r) => format!("result<{}, {}>", or_blank(&r.ok), or_blank(&r.err)),
        TypeDefKind::Record(r) => {
            let fields: Vec<String> = r
                .fields
                .iter()
                .map(|f| format!("{}: {}", f.name, render(resolve, &f.ty)))
                .collect();
            format!(
                "{}{{{}}}",
                def.name.as_deref().unwrap_or(""),
                fields.join(", ")
            )
        }
        other => format!("{} {}", other.as_str(), def.name.as_deref().unwrap_or("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wit_component::{StringEncoding, dummy_module, embed_component_metadata};
    use wit_parser::{LiftLowerAbi, ManglingAndAbi};

    const RECEIPT_WIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit/receipt");

    /// A component for `world` of the WIT in `wit`, built from a dummy core module.
    fn component_for(wit: &str, world: &str) -> Vec<u8> {
        let mut resolve = Resolve::default();
        let package = resolve.push_str("test.wit", wit).expect("test wit parses");
        let world = resolve
            .select_world(&[package], Some(world))
            .expect("world");
        component_of(&resolve, world)
    }

    fn component_of(resolve: &Resolve, world: wit_parser::WorldId) -> Vec<u8> {
        let mut module = dummy_module(resolve, world, ManglingAndAbi::Legacy(LiftLowerAbi::Sync));
        embed_component_metadata(&mut module, resolve, world, StringEncoding::UTF8)
            .expect("metadata embeds");
        ComponentEncoder::default()
            .module(&module)
            .expect("module")
            .validate(true)
            .encode()
            .expect("encodes")
    }

    /// The receipt WIT with `extra` added to the signer interface or the world.
    fn receipt_wit_with(interface_extra: &str, world_extra: &str) -> String {
        let wit = std::fs::read_to_string(format!("{RECEIPT_WIT}/receipt.wit")).unwrap();
        wit.replace(
            "    sign: func(core: string) -> result<string, string>;\n",
            &format!(
                "    sign: func(core: string) -> result<string, string>;\n{interface_extra}\n"
            ),
        )
        .replace(
            "    export signer;\n",
            &format!("    export signer;\n{world_extra}\n"),
        )
    }

    #[test]
    fn the_receipt_wit_itself_passes() {
        let mut resolve = Resolve::default();
        let (package, _) = resolve.push_dir(RECEIPT_WIT).expect("wit/receipt parses");
        let world = resolve
            .select_world(&[package], Some("receipt-signer"))
            .unwrap();
        let component = component_of(&resolve, world);
        check_interface(&component).unwrap();
        let surface = surface(&component).unwrap();
        assert_eq!(surface.imports, ALLOWED_IMPORTS);
        let mut exports = ALLOWED_EXPORTS.to_vec();
        exports.sort();
        assert_eq!(surface.exports, exports);
    }

    #[test]
    fn an_extra_export_is_refused() {
        let wit = receipt_wit_with("    secret-key: func() -> list<u8>;", "");
        let err = check_interface(&component_for(&wit, "receipt-signer")).unwrap_err();
        assert!(
            matches!(&err, Error::UnexpectedExport(f) if f.contains("secret-key")),
            "{err}"
        );
    }

    #[test]
    fn a_changed_record_is_refused() {
        let wit = std::fs::read_to_string(format!("{RECEIPT_WIT}/receipt.wit"))
            .unwrap()
            .replace(
                "        previous-ar-hash: option<string>,\n",
                "        previous-ar-hash: option<string>,\n        seed: list<u8>,\n",
            );
        let err = check_interface(&component_for(&wit, "receipt-signer")).unwrap_err();
        assert!(
            matches!(&err, Error::UnexpectedExport(f) if f.contains("seed")),
            "{err}"
        );
    }

    #[test]
    fn an_extra_import_is_refused() {
        let wit = receipt_wit_with("", "    import clock: func() -> u64;");
        let err = check_interface(&component_for(&wit, "receipt-signer")).unwrap_err();
        assert!(
            matches!(&err, Error::UnexpectedImport(f) if f.contains("clock")),
            "{err}"
        );
    }

    #[test]
    fn an_extra_world_export_is_refused() {
        let wit = receipt_wit_with("", "    export dump: func() -> list<u8>;");
        let err = check_interface(&component_for(&wit, "receipt-signer")).unwrap_err();
        assert!(
            matches!(&err, Error::UnexpectedExport(f) if f.contains("dump")),
            "{err}"
        );
    }

    #[test]
    fn a_core_module_is_not_a_component() {
        let mut resolve = Resolve::default();
        let (package, _) = resolve.push_dir(RECEIPT_WIT).unwrap();
        let world = resolve
            .select_world(&[package], Some("receipt-signer"))
            .unwrap();
        let module = dummy_module(&resolve, world, ManglingAndAbi::Legacy(LiftLowerAbi::Sync));
        assert!(check_interface(&module).is_err());
    }
}
