use super::*;

#[test]
fn vocabulary_is_valid() {
    Pii::describe().validate().unwrap();
}
