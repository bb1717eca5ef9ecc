//! End-to-end tests: the real `lucid` binary, real components, real files.

mod serve;
mod sign;
