//! The crate's one integration-test binary.

mod decide;
mod load;
mod overrides;
mod redact;
mod schema;
mod shipped;
mod util;
