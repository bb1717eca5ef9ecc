//! Never returns from observe.
use lucid_auditor_sdk::{Auditor, Claim, Error, Input, Phase, Vocabulary};

struct LoopForever;

impl Auditor for LoopForever {
    fn describe() -> Vocabulary {
        Vocabulary::new("loop_forever", "0.1.0", "spins forever").phases([Phase::Request])
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let mut x: u64 = input.messages().len() as u64;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

lucid_auditor_sdk::export_auditor!(LoopForever);
