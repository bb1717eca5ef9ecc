//! End-to-end tests: the real `lucid` binary, real components, real files.

mod attest;
mod gateway;
mod openai;
mod passport;
mod policy;
mod postgres;
mod redact;
mod serve;
mod sign;
mod ui;
