//! `lucid-receipt-componentize MODULE OUT`: encodes the receipt signer's core module as a
//! component, checks its interface, and writes it to OUT (through a temporary file and a rename,
//! so a running host never reads half a file).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [module, out] = args.as_slice() else {
        eprintln!("usage: lucid-receipt-componentize <core-module.wasm> <component.wasm>");
        return ExitCode::from(2);
    };
    match run(Path::new(module), Path::new(out)) {
        Ok(size) => {
            println!("{out} ({size} bytes)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lucid-receipt-componentize: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(module: &Path, out: &Path) -> Result<usize, String> {
    let bytes =
        std::fs::read(module).map_err(|e| format!("cannot read {}: {e}", module.display()))?;
    let component = lucid_receipt_componentize::componentize(&bytes).map_err(|e| e.to_string())?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = out.with_extension("wasm.tmp");
    std::fs::write(&tmp, &component).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, out).map_err(|e| format!("cannot rename to {}: {e}", out.display()))?;
    Ok(component.len())
}
