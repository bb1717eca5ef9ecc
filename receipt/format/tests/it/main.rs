//! Tests of the lucid-ar/1 format: canonical bytes, signing, and chain verification.

mod canonical;
mod chain;
mod signing;
mod util;
