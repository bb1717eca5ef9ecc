//! Recurses without bound.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct Recursion;

#[inline(never)]
#[allow(unconditional_recursion)]
fn deeper(n: u64, pad: [u64; 16]) -> u64 {
    let pad = std::hint::black_box(pad);
    deeper(n + 1, pad).wrapping_add(pad[(n % 16) as usize])
}

impl Auditor for Recursion {
    fn describe() -> Vocabulary {
        Vocabulary::new("recursion", "0.1.0", "recurses without bound")
            .phases([Phase::Request])
            .claim(ClaimSpec::new("depth", ClaimType::Count, "never emitted"))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        Ok(vec![Claim::count("depth", deeper(0, [7; 16]))])
    }
}

lucid_auditor_sdk::export_auditor!(Recursion);
