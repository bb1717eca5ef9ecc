//! Tests of the lucid-ar/1 format: canonical bytes, signing, and chain verification.

mod canonical;
mod chain;
mod reference;
mod signing;
mod util;
