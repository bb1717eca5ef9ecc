use super::*;

fn kinds(text: &str) -> Vec<Kind> {
    scan(text, KindSet::ALL)
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[test]
fn smoke() {
    assert_eq!(kinds("call (555) 010-4477 x123"), [Kind::Phone]);
}
