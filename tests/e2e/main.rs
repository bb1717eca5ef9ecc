//! End-to-end tests: the real `lucid` binary, real components, real files.

mod gateway;
mod serve;
mod sign;
