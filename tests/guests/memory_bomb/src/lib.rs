//! Allocates until the memory cap stops it.
use lucid_auditor_sdk::{Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, Vocabulary};

struct MemoryBomb;

impl Auditor for MemoryBomb {
    fn describe() -> Vocabulary {
        Vocabulary::new("memory_bomb", "0.1.0", "allocates without bound")
            .phases([Phase::Request])
            .claim(ClaimSpec::new("bytes", ClaimType::Count, "bytes allocated"))
    }

    fn observe(_input: &Input) -> Result<Vec<Claim>, Error> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
            if hoard.len() > 1 << 20 {
                break;
            }
        }
        Ok(vec![Claim::count("bytes", hoard.len() as u64)])
    }
}

lucid_auditor_sdk::export_auditor!(MemoryBomb);
